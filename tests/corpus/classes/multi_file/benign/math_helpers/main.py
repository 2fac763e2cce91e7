import mathx
print(mathx.gcd(12, 18))
