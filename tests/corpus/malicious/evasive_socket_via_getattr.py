sock_mod = __import__("sock" + "et")
s = sock_mod.socket()
s.connect(("192.0.2.1", 80))
