import hashlib
import sys

def sha256_of(path, chunk=65536):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()

for name in sys.argv[1:] or ["input.bin"]:
    print(sha256_of(name), name)
