import numpy as np

rng = np.random.default_rng(1)
X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(5, 1, (50, 2))])
centers = X[rng.choice(len(X), 2, replace=False)]
for _ in range(10):
    labels = np.argmin(((X[:, None] - centers) ** 2).sum(-1), axis=1)
    centers = np.array([X[labels == k].mean(0) for k in range(2)])
print(np.round(centers, 2))
