from functools import lru_cache, reduce
import sys

sys.setrecursionlimit(10000)

@lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

print(fib(200))
print(reduce(lambda a, b: a * b, range(1, 10)))
