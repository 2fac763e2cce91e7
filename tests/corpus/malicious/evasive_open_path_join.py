import os
p = os.path.join("/", "etc", "shadow")
print(open(p).read())
