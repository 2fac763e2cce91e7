s = "".join(map(chr, [111, 115]))
getattr(__import__(s), "listdir")("/")