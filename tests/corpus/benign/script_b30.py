import os, shutil
os.makedirs("build/assets", exist_ok=True)
shutil.copytree("assets", "build/assets", dirs_exist_ok=True)
print("copied")