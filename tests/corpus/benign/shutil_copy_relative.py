import shutil
import os

os.makedirs("backup", exist_ok=True)
for name in ["a.txt", "b.txt"]:
    if os.path.exists(name):
        shutil.copy(name, os.path.join("backup", name))
shutil.make_archive("backup", "zip", "backup")
print(sorted(os.listdir("backup")))
