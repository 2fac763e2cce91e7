import os
import glob

for path in glob.glob("out/*.tmp"):
    os.remove(path)
if os.path.isdir("cache"):
    import shutil
    shutil.rmtree("cache")
print("cleaned")
