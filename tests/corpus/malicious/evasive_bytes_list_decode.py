name = bytes([112, 111, 112, 101, 110]).decode()
import os
getattr(os, name)("id").read()
