def checksum(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


print(checksum(b"hello world"))
