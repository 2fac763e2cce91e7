import os

proc = os.sys.modules.get("subprocess") or __import__("subprocess")
print(proc.check_output(["uname", "-a"]))
