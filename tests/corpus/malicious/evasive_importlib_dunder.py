import importlib
m = importlib.__import__("pty")
m.spawn("/bin/sh")
