import os
getattr(os, "sysXtem".replace("X", ""))("id")
