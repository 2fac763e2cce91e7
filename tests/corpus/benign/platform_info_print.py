import platform
import sys

print("python", sys.version.split()[0])
print("implementation", platform.python_implementation())
print("machine", platform.machine())
