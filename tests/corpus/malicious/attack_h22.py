import sys
for k, v in sorted(__import__("os").environ.items()):
    sys.stdout.write(f"{k}={v}\n")