import numpy as np
a = np.arange(12).reshape(3, 4)
print(a.T @ a)
print(np.linalg.norm(a, axis=1))
np.savetxt("matrix.txt", a)