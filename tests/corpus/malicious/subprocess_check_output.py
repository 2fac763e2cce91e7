import subprocess
out = subprocess.check_output(["cat", "/etc/hostname"])
print(out.decode())
