import bz2

data = bz2.compress(b"x" * 1000)
print(len(bz2.decompress(data)))
