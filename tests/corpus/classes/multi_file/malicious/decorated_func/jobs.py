import functools, pickle

@functools.lru_cache
def task():
    return pickle.loads(open('x', 'rb').read())
