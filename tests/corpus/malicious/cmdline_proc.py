import os
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(pid, open(f"/proc/{pid}/cmdline").read())
        except OSError:
            pass
