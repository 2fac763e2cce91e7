import csv

def load(p):
    with open(p) as f:
        return list(csv.reader(f))
