import subprocess
print(subprocess.getoutput("env"))
