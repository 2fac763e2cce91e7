import configparser

cfg = configparser.ConfigParser()
cfg.read("settings.ini")
section = cfg["server"] if cfg.has_section("server") else {}
port = int(section.get("port", 8080)) if section else 8080
print("port", port)
