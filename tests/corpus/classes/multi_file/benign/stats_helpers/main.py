import stats
print(stats.mean([1, 2, 3]), stats.var([1, 2, 3]))
