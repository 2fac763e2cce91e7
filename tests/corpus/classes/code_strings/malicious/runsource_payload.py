import code
code.InteractiveInterpreter().runsource("import ctypes; ctypes.CDLL(None).system(b'id')")
