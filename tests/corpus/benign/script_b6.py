class Shell:
    """A seashell collection."""
    def __init__(self):
        self.shells = []
    def add(self, s):
        self.shells.append(s)
    def system(self):
        return "classification: " + ", ".join(self.shells)
sh = Shell()
sh.add("conch")
print(sh.system())