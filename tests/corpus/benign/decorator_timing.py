import functools
import time

def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            print(f"{fn.__name__} took {time.perf_counter() - t0:.6f}s")
    return wrapper

@timed
def slow_sum(n):
    return sum(range(n))

print(slow_sum(10 ** 6))
