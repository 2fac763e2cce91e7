def popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c

def subsets(n):
    for mask in range(1 << n):
        yield [i for i in range(n) if mask >> i & 1]

print([popcount(i) for i in range(16)])
print(list(subsets(3)))
