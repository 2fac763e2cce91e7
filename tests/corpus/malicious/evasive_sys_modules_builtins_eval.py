import sys
e = sys.modules["builtins"].__dict__["eval"]
print(e("1+1"))