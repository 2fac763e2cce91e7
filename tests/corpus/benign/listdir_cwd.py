import os

for name in sorted(os.listdir(".")):
    if name.endswith(".py"):
        print(name, os.path.getsize(name))
