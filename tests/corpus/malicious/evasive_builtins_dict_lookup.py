e = __builtins__.__dict__["ev" + "al"]
e("1+1")
