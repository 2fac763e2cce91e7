src = "__import__('os').system('id')"
obj = compile(src, "<string>", "exec")
exec(obj)
