import math

for fname in ["sqrt", "log", "exp"]:
    fn = getattr(math, fname)
    print(fname, fn(2.0))
