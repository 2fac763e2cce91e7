import statistics as st

values = [2.5, 3.1, 4.7, 3.3, 2.9, 5.0, 4.1]
print("mean", st.mean(values))
print("median", st.median(values))
print("stdev", round(st.stdev(values), 4))
print("quantiles", st.quantiles(values, n=4))
