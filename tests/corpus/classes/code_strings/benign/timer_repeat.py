import timeit

t = timeit.Timer("sorted(data)", setup="import random; data = [random.random() for _ in range(1000)]")
print(min(t.repeat(repeat=3, number=50)))
print(timeit.repeat("x = sum(range(100))", repeat=3, number=1000))
