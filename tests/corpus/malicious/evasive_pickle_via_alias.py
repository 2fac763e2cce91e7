import pickle as serial
blob = open("state.bin", "rb").read()
obj = serial.loads(blob)
