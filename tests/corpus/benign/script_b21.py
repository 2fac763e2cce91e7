import os
tmp = os.environ.get("TMPDIR", "/tmp")
path = os.path.join(tmp, "cache.txt")
with open(path, "w") as fh:
    fh.write("x")