import json, sys, os
FILE = os.path.join(os.path.dirname(__file__), "todo.json")
def load():
    return json.load(open(FILE)) if os.path.exists(FILE) else []
def save(items):
    with open(FILE, "w") as f:
        json.dump(items, f)
def main():
    items = load()
    if len(sys.argv) > 2 and sys.argv[1] == "add":
        items.append(" ".join(sys.argv[2:]))
        save(items)
    for i, t in enumerate(items, 1):
        print(i, t)
main()