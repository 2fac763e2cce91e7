import pickle, socket
s = socket.create_connection(("192.0.2.4", 9000))
obj = pickle.loads(s.recv(65536))