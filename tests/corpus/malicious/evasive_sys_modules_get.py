import sys
import subprocess
sp = sys.modules.get("subprocess")
sp.Popen(["id"])
