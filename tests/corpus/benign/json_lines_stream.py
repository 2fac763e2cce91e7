import json
import sys

total = 0
for lineno, line in enumerate(sys.stdin, 1):
    line = line.strip()
    if not line:
        continue
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        print(f"line {lineno}: {exc}", file=sys.stderr)
        continue
    total += rec.get("value", 0)
print(total)
