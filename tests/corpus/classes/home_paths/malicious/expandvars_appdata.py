import os
open(os.path.expandvars(r'%APPDATA%\\svc.txt'), 'w').write('x')
