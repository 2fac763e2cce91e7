import pickle
with open("cache.pkl", "wb") as f:
    pickle.dump({"a": 1}, f)
print("saved")