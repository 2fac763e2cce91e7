import inspect

def f(a, b=2, *args, c, **kw):
    return a

sig = inspect.signature(f)
for name, p in sig.parameters.items():
    print(name, p.kind.name, p.default is inspect.Parameter.empty)
print(inspect.getdoc(f))
