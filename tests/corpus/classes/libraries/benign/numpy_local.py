import numpy as np
a = np.load('matrix.npy')
print(a.mean(axis=0))
