import os
if os.getuid() == 0:
    print('root')
