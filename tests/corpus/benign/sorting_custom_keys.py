from functools import cmp_to_key

people = [("ann", 31), ("bob", 25), ("cy", 31)]
print(sorted(people, key=lambda p: (-p[1], p[0])))

def cmp(a, b):
    return (a > b) - (a < b)

print(sorted([3, 1, 2], key=cmp_to_key(cmp)))
