import socket
print('running on', socket.gethostname())
