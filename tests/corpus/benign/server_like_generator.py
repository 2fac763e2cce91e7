import itertools

def ticker():
    n = 0
    while True:
        yield n
        n += 1

for t in itertools.islice(ticker(), 5):
    print(t)
