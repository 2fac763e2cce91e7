import os.path
import shutil

src = os.path.join("inputs", "data.csv")
dst = os.path.join("/tmp", "data_copy.csv")
if os.path.exists(src):
    shutil.copyfile(src, dst)
    print(os.path.getsize(dst))
else:
    print("missing", os.path.basename(src))
