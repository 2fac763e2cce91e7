import platform
print(platform.node(), platform.python_version())
