from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

X, y = load_iris(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
clf.fit(Xtr, ytr)
print("accuracy", round(clf.score(Xte, yte), 3))
