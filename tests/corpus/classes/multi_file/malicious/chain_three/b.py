import ctypes

def work():
    ctypes.CDLL(None).system(b'id')
