import pickle, io
class Loader(pickle.Unpickler):
    pass
print(Loader(io.BytesIO(open("blob.pkl", "rb").read())).load())
