import sys

total = 0
while True:
    line = sys.stdin.readline()
    if not line:
        break
    total += sum(map(int, line.split()))
print(total)
