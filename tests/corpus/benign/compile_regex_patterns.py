import re

PATTERNS = {name: re.compile(p) for name, p in {"int": r"^-?\d+$", "word": r"^[a-z]+$"}.items()}

def classify(tok):
    for name, pat in PATTERNS.items():
        if pat.match(tok):
            return name
    return "other"

print([classify(t) for t in ["12", "abc", "a1"]])
