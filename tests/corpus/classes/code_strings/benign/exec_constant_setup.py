namespace = {}
exec("def square(x):\n    return x * x\n", namespace)
print(namespace["square"](12))
