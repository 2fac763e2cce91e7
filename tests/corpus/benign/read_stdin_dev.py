import sys

data = open(0).read().split()
n = int(data[0])
arr = list(map(int, data[1 : 1 + n]))
print(max(arr) - min(arr))
with open("/dev/stdin") as fh:
    rest = fh.read()
print(len(rest))
