rows = [("apples", 3, 0.5), ("bananas", 12, 0.25), ("cherries", 200, 0.05)]
print("{:<10}{:>6}{:>8}".format("item", "qty", "price"))
for name, q, p in rows:
    print("{:<10}{:>6d}{:>8.2f}".format(name, q, p))
print("%-10s|%5d" % ("total", sum(r[1] for r in rows)))
