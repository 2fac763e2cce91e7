import csv, statistics
with open("scores.csv") as f:
    r = csv.DictReader(f)
    scores = [float(x["score"]) for x in r]
print(statistics.mean(scores), statistics.pstdev(scores))