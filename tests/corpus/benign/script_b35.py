import sys
sys.setrecursionlimit(1 << 20)
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)
print(depth(1000))