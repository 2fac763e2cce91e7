import os

if "CI" in os.environ:
    print("running in CI")
os.environ["OMP_NUM_THREADS"] = "1"
os.environ.setdefault("TZ", "UTC")
home = os.environ["HOME"] if "HOME" in os.environ else "."
print(home != "")
