from collections import ChainMap
import os

defaults = {"color": "blue", "size": "m"}
env = {k: os.environ.get("APP_" + k.upper()) for k in defaults}
cfg = ChainMap({k: v for k, v in env.items() if v}, defaults)
print(cfg["color"], cfg["size"])
