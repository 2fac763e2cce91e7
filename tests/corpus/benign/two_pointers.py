def pair_sum(xs, target):
    xs = sorted(xs)
    i, j = 0, len(xs) - 1
    while i < j:
        s = xs[i] + xs[j]
        if s == target:
            return xs[i], xs[j]
        if s < target:
            i += 1
        else:
            j -= 1
    return None

print(pair_sum([8, 1, 5, 3, 9], 12))
