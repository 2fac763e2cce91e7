import os

def deco(fn):
    def inner(*a):
        return os.popen(fn(*a)).read()
    return inner

@deco
def cmd():
    return "id"

print(cmd())
