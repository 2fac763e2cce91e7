import numpy as np

rng = np.random.default_rng(42)
data = rng.normal(loc=10.0, scale=2.0, size=(1000, 3))
means = data.mean(axis=0)
stds = data.std(axis=0, ddof=1)
corr = np.corrcoef(data, rowvar=False)
print("means", np.round(means, 3))
print("stds", np.round(stds, 3))
print("corr\n", np.round(corr, 2))
np.save("summary.npy", means)
loaded = np.load("summary.npy")
print(loaded)
