MOD = 10 ** 9 + 7

def mat_mult(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(2)) % MOD for j in range(2)] for i in range(2)]

def mat_pow(m, e):
    r = [[1, 0], [0, 1]]
    while e:
        if e & 1:
            r = mat_mult(r, m)
        m = mat_mult(m, m)
        e >>= 1
    return r

print(mat_pow([[1, 1], [1, 0]], 90)[0][1])
