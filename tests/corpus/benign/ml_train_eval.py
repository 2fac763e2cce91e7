import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import classification_report
X = np.load("features.npy")
y = np.load("labels.npy")
clf = RandomForestClassifier(n_estimators=50, random_state=0).fit(X[:800], y[:800])
print(classification_report(y[800:], clf.predict(X[800:])))