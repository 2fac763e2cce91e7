import numpy as np
t = np.linspace(0, 1, 500, endpoint=False)
sig = np.sin(2 * np.pi * 7 * t) + 0.5 * np.sin(2 * np.pi * 19 * t)
spec = np.abs(np.fft.rfft(sig))
print(np.argsort(spec)[-2:])