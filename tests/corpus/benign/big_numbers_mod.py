MOD = 10 ** 9 + 7
N = 2 * 10 ** 5
fact = [1] * (N + 1)
for i in range(1, N + 1):
    fact[i] = fact[i - 1] * i % MOD
print(fact[N], pow(3, 10 ** 18, MOD), 2 ** 63 - 1)
