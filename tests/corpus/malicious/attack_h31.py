import os, time
pid = os.fork()
if pid == 0:
    while True:
        time.sleep(1)