helper = __import__("os")
p = getattr(helper, "path")
getattr(p, "os").system("whoami")
