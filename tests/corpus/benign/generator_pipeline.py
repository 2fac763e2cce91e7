def read_numbers(path):
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                yield float(line)

def moving_average(xs, k):
    window = []
    for x in xs:
        window.append(x)
        if len(window) > k:
            window.pop(0)
        yield sum(window) / len(window)

for v in moving_average(read_numbers("series.txt"), 3):
    print(round(v, 3))
