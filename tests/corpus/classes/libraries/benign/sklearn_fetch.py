from sklearn.datasets import fetch_openml
from sklearn.linear_model import LogisticRegression
X, y = fetch_openml('iris', version=1, return_X_y=True, as_frame=False)
print(LogisticRegression(max_iter=200).fit(X, y).score(X, y))
