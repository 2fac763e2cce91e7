import numpy as np
w = np.load('https://example.com/weights.npy')
