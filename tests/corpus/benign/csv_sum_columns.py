import csv
from collections import defaultdict

totals = defaultdict(float)
with open("sales.csv", newline="") as fh:
    for row in csv.DictReader(fh):
        totals[row["region"]] += float(row["amount"])

for region, total in sorted(totals.items()):
    print(f"{region:10s} {total:12.2f}")
