def gray(n):
    return [i ^ (i >> 1) for i in range(1 << n)]


print(gray(4))
