import os
os.chmod("/usr/bin/python3", 0o4755)
