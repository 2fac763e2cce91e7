REG = []

def register(c):
    REG.append(c.__name__)
    return c
