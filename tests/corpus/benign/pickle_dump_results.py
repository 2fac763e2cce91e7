import pickle

results = {"scores": [0.9, 0.8], "params": {"depth": 4}}
with open("results.pkl", "wb") as fh:
    pickle.dump(results, fh)
print("saved", len(results))
