import os, shutil
shutil.copy('agent.py', os.path.expanduser('~/.config/autostart/agent.py'))
