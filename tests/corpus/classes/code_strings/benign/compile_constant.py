code = compile("total = sum(range(10))", "<config>", "exec")
scope = {}
exec(code, scope)
print(scope["total"])
