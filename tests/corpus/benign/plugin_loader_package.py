import importlib

PLUGINS = ["csv_export", "json_export"]

def load(name):
    return importlib.import_module(f"exporters.{name}")

for p in PLUGINS:
    try:
        print(load(p))
    except ImportError as exc:
        print("skip", p, exc)
