from .tools import clean
clean()
