from timeit import timeit


def fib_iter(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_rec(n: int) -> int:
    return n if n < 2 else fib_rec(n - 1) + fib_rec(n - 2)


def benchmark() -> None:
    for func in (fib_iter, fib_rec):
        t = timeit(f"{func.__name__}(15)", globals=globals(), number=20)
        print(f"{func.__name__:>10}: {t:.4f}s")


if __name__ == "__main__":
    benchmark()
