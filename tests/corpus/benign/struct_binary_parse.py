import struct

HEADER = struct.Struct("<4sIH")

def parse(blob):
    magic, length, version = HEADER.unpack_from(blob, 0)
    return magic.decode(), length, version

blob = HEADER.pack(b"RCEL", 1024, 3)
print(parse(blob))
