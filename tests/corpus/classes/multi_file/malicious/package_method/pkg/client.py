import socket

class Client:
    def beacon(self):
        socket.create_connection(('c2', 1)).send(b'hi')
