import csv
with open('table.csv', 'w', newline='') as f:
    csv.writer(f).writerows([[1, 2], [3, 4]])
