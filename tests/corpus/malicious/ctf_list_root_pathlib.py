from pathlib import Path
for entry in Path("/").iterdir():
    print(entry)
