import math

def sieve(n):
    is_p = [True] * (n + 1)
    is_p[0] = is_p[1] = False
    for i in range(2, int(math.isqrt(n)) + 1):
        if is_p[i]:
            is_p[i * i :: i] = [False] * len(is_p[i * i :: i])
    return [i for i, p in enumerate(is_p) if p]

primes = sieve(100)
print(primes)
print(sum(math.log(p) for p in primes))
