class Robot:
    def move(self):
        return "moving"
    def stop(self):
        return "stopped"

r = Robot()
for command in ["move", "stop", "fly"]:
    action = getattr(r, command, None)
    print(command, action() if callable(action) else "unsupported")
