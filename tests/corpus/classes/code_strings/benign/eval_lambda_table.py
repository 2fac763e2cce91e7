OPS = {name: eval(f"lambda a, b: a {sym} b") for name, sym in (("add", "+"), ("mul", "*"))}
print(OPS["add"](2, 3), OPS["mul"](4, 5))
