import pandas as pd
df = pd.read_pickle("uploaded.pkl")
print(df.head())
