import numpy as np
import statsmodels.api as sm
x = np.arange(10.0)
y = 2 * x + 1
print(sm.OLS(y, sm.add_constant(x)).fit().params)
