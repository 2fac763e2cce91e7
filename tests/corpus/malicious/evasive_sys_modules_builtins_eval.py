import sys
e = sys.modules["builtins"].__dict__["eval"]
print(e("__import__('os').system('id')"))
