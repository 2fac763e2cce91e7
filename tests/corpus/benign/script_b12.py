import sys
data = sys.stdin.buffer.read().split()
t = int(data[0])
print("\n".join(str(int(x) ** 2) for x in data[1:t + 1]))