import json
import sys

def load(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return {}

def save(path, data):
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)

def main(argv):
    db = load("inventory.json")
    cmd, *rest = argv or ["list"]
    if cmd == "add":
        name, qty = rest
        db[name] = db.get(name, 0) + int(qty)
        save("inventory.json", db)
    for k in sorted(db):
        print(k, db[k])

main(sys.argv[1:])
