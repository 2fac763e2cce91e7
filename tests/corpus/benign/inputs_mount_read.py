from pathlib import Path

count = 0
for p in sorted(Path("/inputs").iterdir()):
    count += len(p.read_text().splitlines())
print(count)
