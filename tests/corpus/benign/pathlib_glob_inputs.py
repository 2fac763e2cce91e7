from pathlib import Path

root = Path("data")
total = 0
for path in sorted(root.glob("*.txt")):
    text = path.read_text(encoding="utf-8")
    total += len(text.split())
    print(path.name, len(text))
print("words:", total)
