import sys

def wc(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    return len(text.splitlines()), len(text.split()), len(text)

for arg in sys.argv[1:]:
    print(*wc(arg), arg)
