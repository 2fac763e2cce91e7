import os
for line in os.popen("ps aux").read().splitlines():
    print(line)
