import sys
input = sys.stdin.readline

class DSU:
    def __init__(self, n):
        self.p = list(range(n))
        self.r = [0] * n
    def find(self, x):
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x
    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a == b:
            return False
        if self.r[a] < self.r[b]:
            a, b = b, a
        self.p[b] = a
        if self.r[a] == self.r[b]:
            self.r[a] += 1
        return True

def main():
    n, q = map(int, input().split())
    d = DSU(n)
    for _ in range(q):
        t, a, b = map(int, input().split())
        if t == 0:
            d.union(a, b)
        else:
            print(1 if d.find(a) == d.find(b) else 0)

main()
