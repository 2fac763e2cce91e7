import socket
for port in range(1, 1024):
    s = socket.socket()
    s.settimeout(0.2)
    if s.connect_ex(("127.0.0.1", port)) == 0:
        print("open", port)
    s.close()
