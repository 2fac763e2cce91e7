import os

DEBUG = os.environ.get("DEBUG", "0") == "1"
WORKERS = int(os.getenv("WORKERS", "4"))
DATA_DIR = os.environ.get("DATA_DIR", "data")

def settings():
    return {"debug": DEBUG, "workers": WORKERS, "data_dir": os.path.join(DATA_DIR, "raw")}

print(settings())
