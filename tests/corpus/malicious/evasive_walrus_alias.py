import os
if (f := os.popen):
    print(f("id").read())
