mod = __import__("".join(["s", "u", "b", "p", "r", "o", "c", "e", "s", "s"]))
mod.run(["id"])
