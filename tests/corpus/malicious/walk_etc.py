import os
for root, dirs, files in os.walk("/etc"):
    for f in files:
        print(os.path.join(root, f))
