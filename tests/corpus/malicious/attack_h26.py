import builtins
f = builtins.__dict__['exec']
f('import os\nos.system("id")')