src = "print('hello from compiled code')"
obj = compile(src, "<string>", "exec")
exec(obj)
