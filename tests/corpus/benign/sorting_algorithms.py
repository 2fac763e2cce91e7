def quicksort(xs):
    if len(xs) <= 1:
        return xs
    p, *rest = xs
    return quicksort([x for x in rest if x < p]) + [p] + quicksort([x for x in rest if x >= p])
def mergesort(xs):
    if len(xs) <= 1:
        return xs
    m = len(xs) // 2
    a, b = mergesort(xs[:m]), mergesort(xs[m:])
    out = []
    while a and b:
        out.append(a.pop(0) if a[0] <= b[0] else b.pop(0))
    return out + a + b
print(quicksort([5, 2, 8, 1]), mergesort([9, 3, 7]))