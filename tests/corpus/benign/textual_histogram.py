from collections import Counter

data = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
hist = Counter(data)
for k in range(min(data), max(data) + 1):
    print(f"{k:2d} | " + "*" * hist.get(k, 0))
