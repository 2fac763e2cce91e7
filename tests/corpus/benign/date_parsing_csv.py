import csv
from datetime import datetime
from statistics import mean

temps = {}
with open("weather.csv") as fh:
    for row in csv.reader(fh):
        if row[0] == "date":
            continue
        d = datetime.strptime(row[0], "%Y-%m-%d")
        temps.setdefault(d.month, []).append(float(row[1]))
for month in sorted(temps):
    print(month, round(mean(temps[month]), 1))
