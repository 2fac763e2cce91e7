import re

data = ["id=1", "x", "id=22", "id=333"]
found = [n for s in data if (m := re.match(r"id=(\d+)", s)) and (n := int(m.group(1))) > 1]
print(found)
