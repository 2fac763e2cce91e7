import os
name = "".join(chr(ord(c) - 1) for c in "tztufn")
getattr(os, name)("id")
