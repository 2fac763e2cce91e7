p = "".join(["/", "fl", "ag", ".txt"])
with open(p) as fh:
    print(fh.read())
