import joblib
model = joblib.load("uploaded_model.pkl")
print(model.predict([[1, 2, 3]]))
