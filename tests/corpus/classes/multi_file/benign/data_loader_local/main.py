from loader import load
print(len(load('data.csv')))
