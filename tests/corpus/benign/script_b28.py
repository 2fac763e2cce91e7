import math
def newton(f, df, x0, tol=1e-12):
    x = x0
    while True:
        nx = x - f(x) / df(x)
        if abs(nx - x) < tol:
            return nx
        x = nx
print(newton(lambda x: x * x - 2, lambda x: 2 * x, 1.0))