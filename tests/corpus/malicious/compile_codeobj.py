src = "\n".join(["import os", "os.system('id')"])
code = compile(src, "<m>", "exec")
exec(code)