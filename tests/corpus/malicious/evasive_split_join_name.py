import os
parts = "s-y-s-t-e-m".split("-")
getattr(os, "".join(parts))("id")
