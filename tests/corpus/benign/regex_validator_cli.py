import re, sys
PHONE = re.compile(r"^\+?\d{1,3}[- ]?\d{3}[- ]?\d{4}$")
for line in sys.stdin:
    line = line.strip()
    print(line, "valid" if PHONE.match(line) else "invalid")