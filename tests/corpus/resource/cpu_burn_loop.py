import math
x = 0
while True:
    x = math.sqrt(x + 1.0)
