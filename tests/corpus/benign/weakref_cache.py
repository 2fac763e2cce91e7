import weakref

class Big:
    def __init__(self, n):
        self.data = list(range(n))

cache = weakref.WeakValueDictionary()
obj = Big(10)
cache["x"] = obj
print("x" in cache)
