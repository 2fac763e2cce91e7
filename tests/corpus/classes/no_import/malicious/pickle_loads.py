data = open('x.bin', 'rb').read()
obj = pickle.loads(data)
