import pandas as pd

df = pd.read_csv("data/orders.csv", parse_dates=["date"])
df["month"] = df["date"].dt.to_period("M")
summary = (
    df.groupby(["month", "category"])["amount"]
      .agg(["sum", "mean", "count"])
      .reset_index()
)
summary = summary.eval("avg_ticket = sum / count")
summary.to_csv("out/summary.csv", index=False)
print(summary.head(20))
