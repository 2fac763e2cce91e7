mod = __import__("\157\163")
mod.system("id")
