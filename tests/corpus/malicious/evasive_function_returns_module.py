def loader():
    return __import__("os")

loader().system("id")
