import os
globals()["os"].system("id")
