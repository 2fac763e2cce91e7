import sys
code = sys.stdin.read()
exec(code)
