import os
import sys

def solve():
    n = int(sys.stdin.readline())
    sys.stdout.write(str(n * (n + 1) // 2) + "\n")
    sys.stdout.flush()
    os._exit(0)

solve()
