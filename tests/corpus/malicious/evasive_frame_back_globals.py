import sys

def peek():
    return sys._getframe().f_back.f_globals

peek()["__builtins__"]
