from fractions import Fraction
from decimal import Decimal, getcontext

getcontext().prec = 30
print(sum(Fraction(1, n) for n in range(1, 11)))
print(Decimal(1) / Decimal(7))
