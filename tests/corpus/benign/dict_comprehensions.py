scores = {"ann": [90, 85], "bob": [70, 95], "cy": [88]}
averages = {k: sum(v) / len(v) for k, v in scores.items()}
best = max(averages, key=averages.get)
inverted = {v: k for k, v in {"a": 1, "b": 2}.items()}
print(averages, best, inverted)
