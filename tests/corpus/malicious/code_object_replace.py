def g():
    return 1
g.__code__ = compile("import os; os.system('id')", "x", "exec")
g()
