import sys, os
sys.modules["os"].system("uname -a")
