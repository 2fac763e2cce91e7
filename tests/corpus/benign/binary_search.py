import bisect

def lower_bound(xs, x):
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo

xs = [1, 3, 3, 5, 8, 13]
assert lower_bound(xs, 5) == bisect.bisect_left(xs, 5)
print(lower_bound(xs, 4))
