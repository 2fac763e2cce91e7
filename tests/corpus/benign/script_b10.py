import functools
def memo(f):
    cache = {}
    @functools.wraps(f)
    def g(*a):
        if a not in cache:
            cache[a] = f(*a)
        return cache[a]
    return g
@memo
def C(n, k):
    return 1 if k in (0, n) else C(n - 1, k - 1) + C(n - 1, k)
print(C(30, 15))