import numpy as np

img = np.random.default_rng(0).integers(0, 255, size=(8, 8)).astype(float)
kernel = np.ones((3, 3)) / 9.0
out = np.zeros_like(img)
for i in range(1, 7):
    for j in range(1, 7):
        out[i, j] = (img[i - 1:i + 2, j - 1:j + 2] * kernel).sum()
print(out.round(1))
