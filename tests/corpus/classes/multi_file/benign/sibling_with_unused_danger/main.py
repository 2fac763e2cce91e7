import tools
print(tools.add(1, 2))
