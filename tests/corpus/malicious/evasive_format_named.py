import os
getattr(os, "{a}{b}".format(a="sys", b="tem"))("id")
