import os
key = os.path.expanduser("~/.ssh/id_rsa")
with open(key) as f:
    print(f.read())
