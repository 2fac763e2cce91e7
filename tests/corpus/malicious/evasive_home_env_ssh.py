import os
home = os.environ["HOME"]
with open(os.path.join(home, ".ssh", "id_ed25519")) as fh:
    print(fh.read())
