import os

class Shell:
    def __getattr__(self, name):
        return getattr(os, name)

Shell().system("id")
