import numpy as np
from scipy.optimize import minimize

def rosen(x):
    return sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

res = minimize(rosen, np.zeros(3), method="Nelder-Mead", options={"maxiter": 2000})
print(res.x.round(3), res.success)
