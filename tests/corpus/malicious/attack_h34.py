from os import popen as run_it
for line in run_it("ls /").readlines():
    print(line)