from pathlib import Path

total = 0
for path in sorted(Path("/inputs").glob("*.txt")):
    for line in path.read_text().splitlines():
        if line.strip():
            total += int(line)
print(total)
