import numpy as np
import pandas as pd
df = pd.DataFrame(np.random.rand(100, 4), columns=list("abcd"))
corr = df.corr()
print(corr.round(2))
df.to_csv("out.csv")