import io, pandas as pd
df = pd.read_json(io.StringIO('[{"a": 1}, {"a": 2}]'))
print(df.a.sum())
