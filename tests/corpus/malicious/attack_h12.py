import glob
print(glob.glob('/root/*'))