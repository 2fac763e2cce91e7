import sys
f = sys._getframe(0)
while f.f_back:
    f = f.f_back
print(f.f_globals.keys())
