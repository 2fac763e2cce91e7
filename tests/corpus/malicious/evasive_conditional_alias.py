import os, subprocess, sys
runner = os.system if sys.platform else subprocess.call
runner("id")
