class Planet:
    def __init__(self, name, system):
        self.name = name
        self._system = system

    def system(self):
        """Return the star system this planet belongs to."""
        return self._system

    def exec(self, command):
        # a game command, not a shell command
        return f"{self.name} executes {command}"

p = Planet("Earth", "Sol")
print(p.system())
print(p.exec("orbit"))
