import pandas as pd

users = pd.read_csv("users.csv")
orders = pd.read_json("orders.json", lines=True)
merged = orders.merge(users, on="user_id", how="left")
pivot = merged.pivot_table(index="country", columns="status", values="total", aggfunc="sum", fill_value=0)
pivot.to_excel("pivot.xlsx")
print(pivot)
