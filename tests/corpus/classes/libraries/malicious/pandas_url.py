import pandas as pd
df = pd.read_csv('https://raw.githubusercontent.com/x/y/main/data.csv')
print(df.head())
