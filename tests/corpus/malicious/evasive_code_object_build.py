import types
co = compile("print('x')", "<s>", "exec")
types.FunctionType(co, {})()
