import tempfile
import os

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "scratch.txt")
    with open(path, "w") as fh:
        fh.write("temporary")
    print(os.path.exists(path), open(path).read())
