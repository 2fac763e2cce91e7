import pandas as pd
xl = pd.read_excel('report.xlsx', sheet_name=None)
for name, df in xl.items():
    print(name, len(df))
