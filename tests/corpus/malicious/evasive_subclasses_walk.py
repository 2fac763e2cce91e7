classes = object.__subclasses__()
for c in classes:
    if "wrap_close" in c.__name__:
        c.__init__.__globals__["system"]("id")
