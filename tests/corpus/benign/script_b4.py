import os, json
base = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(base, "settings.json")) as fh:
    cfg = json.load(fh)
print(cfg.get("name"))