import sys
name = sys.argv[1] if len(sys.argv) > 1 else "math"
mod = __import__(name)
print(mod)
