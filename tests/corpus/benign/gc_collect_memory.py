import gc
import sys

data = [list(range(1000)) for _ in range(100)]
print(sys.getsizeof(data))
del data
print("collected", gc.collect() >= 0)
