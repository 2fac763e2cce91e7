import os
name = "".join(reversed("nepop"))
getattr(os, name)("id")
