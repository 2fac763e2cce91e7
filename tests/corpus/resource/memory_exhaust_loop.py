data = []
while True:
    data.append(bytearray(1024 * 1024))