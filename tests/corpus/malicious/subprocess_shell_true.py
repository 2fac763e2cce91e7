from subprocess import run
result = run("ls -la / && whoami", shell=True, capture_output=True, text=True)
print(result.stdout)
