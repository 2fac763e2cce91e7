import _pickle
_pickle.loads(b"\x80\x04K\x01.")
