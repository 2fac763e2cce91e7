import itertools, math
pts = [(0, 0), (1, 5), (4, 2), (3, 3)]
best = min(itertools.combinations(pts, 2), key=lambda p: math.dist(*p))
print(best)