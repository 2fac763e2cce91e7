import os
for entry in os.scandir("."):
    if entry.is_file() and entry.name.endswith(".csv"):
        print(entry.name, entry.stat().st_size)