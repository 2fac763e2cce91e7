def solve(xs):
    breakpoint()
    return sorted(xs)

print(solve([3, 1, 2]))
