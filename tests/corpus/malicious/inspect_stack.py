import inspect
caller = inspect.stack()[1].frame
caller.f_globals["__builtins__"].exec("print(1)")
