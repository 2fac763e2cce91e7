import os
os.__getattribute__("system")("id")
