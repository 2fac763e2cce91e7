from subprocess import *
call(["ls", "-la"])
