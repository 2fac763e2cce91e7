import os

config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
path = os.path.join(config_home, "myapp", "settings.json")
print("would read", path)
