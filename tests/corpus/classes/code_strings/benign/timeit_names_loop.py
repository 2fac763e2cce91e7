from timeit import timeit


def comb_formula(n, k):
    from math import comb
    return comb(n, k)


def comb_dp(n, k):
    row = [1]
    for _ in range(n):
        row = [a + b for a, b in zip([0] + row, row + [0])]
    return row[k]


for name in ("comb_formula", "comb_dp"):
    print(name, timeit(f"{name}(n=4, k=2)", setup=f"from __main__ import {name}", number=1000))
