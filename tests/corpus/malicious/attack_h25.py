from ctypes import *
libc = CDLL("libc.so.6")
libc.printf(b"hi\n")