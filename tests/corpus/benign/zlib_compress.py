import zlib, base64

payload = ("hello world " * 50).encode()
packed = zlib.compress(payload, 9)
print(len(payload), len(packed))
print(base64.b64encode(packed)[:40])
assert zlib.decompress(packed) == payload
