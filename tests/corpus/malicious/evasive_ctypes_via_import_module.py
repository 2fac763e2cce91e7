import importlib
ct = importlib.import_module("ctypes")
ct.CDLL(None).system(b"id")
