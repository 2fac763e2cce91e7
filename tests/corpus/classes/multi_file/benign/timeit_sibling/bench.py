import timeit

def f():
    return sum(range(100))

def run():
    print(timeit.timeit('f()', globals=globals(), number=10))
