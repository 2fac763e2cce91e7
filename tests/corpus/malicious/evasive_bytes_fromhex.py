mod = __import__(bytes.fromhex("6f73").decode())
mod.system("id")
