import os
print(os.cpu_count(), os.getpid() > 0, os.path.sep)
print(os.path.isfile("README.md"))