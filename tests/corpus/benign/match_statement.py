def describe(cmd):
    match cmd.split():
        case ["go", direction]:
            return f"going {direction}"
        case ["pick", "up", item]:
            return f"picking {item}"
        case ["quit" | "exit"]:
            return "bye"
        case _:
            return "unknown"

for c in ["go north", "pick up lamp", "exit", "dance"]:
    print(describe(c))
