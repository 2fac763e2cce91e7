import numpy as np
data = np.loadtxt('points.txt', delimiter=',')
print(data.shape)
