import os
print(os.path.basename('/a/b'))
