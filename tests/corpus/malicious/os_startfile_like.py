import os
os.execl("/usr/bin/env", "env")
