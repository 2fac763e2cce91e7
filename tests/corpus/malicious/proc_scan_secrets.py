import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        env = open(f"/proc/{pid}/environ", "rb").read()
        if b"SECRET" in env:
            print(pid, env)
    except OSError:
        continue