import timeit


def f():
    return sum(i * i for i in range(100))


print(timeit.timeit("__main__.f()", setup="import __main__", number=200))
