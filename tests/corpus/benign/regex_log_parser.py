import re
from collections import Counter

LINE = re.compile(r'(?P<ip>\d+\.\d+\.\d+\.\d+) - - \[(?P<ts>[^\]]+)\] "(?P<method>\w+) (?P<path>\S+)')

def parse(lines):
    for line in lines:
        m = LINE.match(line)
        if m:
            yield m.groupdict()

with open("access.log") as fh:
    hits = Counter(r["path"] for r in parse(fh))
for path, n in hits.most_common(5):
    print(n, path)
