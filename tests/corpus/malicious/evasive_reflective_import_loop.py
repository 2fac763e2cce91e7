mods = ["os", "subprocess"]
loaded = [__import__(m) for m in mods]
loaded[0].system("id")