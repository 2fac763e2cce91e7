"""Batch resizer.

Previously this used ``subprocess.run(["convert", ...], shell=True)``; now it is pure Python.
"""
# import subprocess  # removed: no external tools in the judge
import os

def scaled(w, h, factor):
    return int(w * factor), int(h * factor)

sizes = [(640, 480), (1920, 1080)]
for w, h in sizes:
    print(scaled(w, h, 0.5))
print(os.path.basename("images/cat.png"))
