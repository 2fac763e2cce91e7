s = socket.socket()
s.connect(('h', 4444))
