import json
import os

DEFAULTS = {"threshold": 0.5, "labels": ["a", "b"], "verbose": False}

def load_config(path="config.json"):
    cfg = dict(DEFAULTS)
    if os.path.exists(path):
        with open(path) as fh:
            cfg.update(json.load(fh))
    return cfg

if __name__ == "__main__":
    print(json.dumps(load_config(), indent=2, sort_keys=True))
