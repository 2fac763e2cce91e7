import os
os.system('python3 -c "import pty; pty.spawn(\'/bin/sh\')"')
