import os

paths = ["data/a.csv", "data/sub/b.csv", "README.md"]
for p in paths:
    root, ext = os.path.splitext(p)
    print(os.path.dirname(p) or ".", os.path.basename(p), ext, os.path.join("out", os.path.basename(root) + ".json"))
print(os.path.normpath("a/./b/../c"))
print(os.sep, os.getcwd() != "")
