import os
fns = [getattr(os, n) for n in ["system"]]
fns[0]("id")
