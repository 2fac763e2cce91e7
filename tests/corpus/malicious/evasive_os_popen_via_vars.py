import os as _o
v = vars(_o)
v["po" "pen"]("uname -a").read()