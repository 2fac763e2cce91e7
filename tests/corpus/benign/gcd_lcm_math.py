import math
from functools import reduce

nums = [12, 18, 30]
print(reduce(math.gcd, nums))
print(reduce(lambda a, b: a * b // math.gcd(a, b), nums))
print(math.comb(10, 3), math.perm(5, 2), math.factorial(8))
