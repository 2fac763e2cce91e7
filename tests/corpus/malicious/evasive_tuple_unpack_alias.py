import os, subprocess
a, b = os.system, subprocess.call
a("id")
