import code

interp = code.InteractiveInterpreter()
interp.runsource("print(sum([1, 2, 3]))")
