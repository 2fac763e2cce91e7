import pandas as pd
import numpy as np

df = pd.DataFrame({"a": [1, None, 3], "b": ["x", "y", None]})
df["a"] = df["a"].fillna(df["a"].mean())
df["b"] = df["b"].fillna("missing")
df["c"] = np.where(df["a"] > 1.5, "high", "low")
print(df.to_string(index=False))
print(df.describe())
