name = "".join(map(chr, [115, 121, 115, 116, 101, 109]))
import os
getattr(os, name)("id")
