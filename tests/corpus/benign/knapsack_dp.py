n, W = 4, 7
wt = [1, 3, 4, 5]
val = [1, 4, 5, 7]
dp = [0] * (W + 1)
for i in range(n):
    for w in range(W, wt[i] - 1, -1):
        dp[w] = max(dp[w], dp[w - wt[i]] + val[i])
print(dp[W])
