x, y = 3, 4
print(f"{x=} {y=} {x * y = }")
name = "world"
print(f"hello {name!r:>10}")
