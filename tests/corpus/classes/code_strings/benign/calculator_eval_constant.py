EXPRESSIONS = ["1 + 2", "3 * (4 + 5)", "2 ** 10", "7 // 2"]

for expr in EXPRESSIONS:
    print(expr, "=", eval(expr))
