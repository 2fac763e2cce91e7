from itertools import islice, takewhile, count

def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b

print(list(islice(fib(), 15)))
print(list(takewhile(lambda x: x < 100, (n * n for n in count()))))
