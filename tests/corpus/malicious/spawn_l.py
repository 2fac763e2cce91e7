import os
os.spawnl(os.P_WAIT, "/bin/ls", "ls", "-la")
