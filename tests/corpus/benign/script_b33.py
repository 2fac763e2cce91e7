from itertools import count
for i in count(1):
    if i * i > 50:
        print(i)
        break