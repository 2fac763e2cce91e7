import os
print(os.uname().sysname)
