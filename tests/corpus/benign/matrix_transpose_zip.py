m = [[1, 2, 3], [4, 5, 6]]
t = [list(r) for r in zip(*m)]
print(t)
print(sum(map(sum, m)))
print(sorted(m, key=lambda r: -r[0]))
