rooms = {"hall": {"n": "kitchen"}, "kitchen": {"s": "hall"}}
room = "hall"
commands = ["n", "s", "quit"]
for cmd in commands:
    if cmd == "quit":
        break
    room = rooms[room].get(cmd, room)
    print("You are in the", room)