import os

sizes = {}
for root, dirs, files in os.walk("project"):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for f in files:
        ext = os.path.splitext(f)[1] or "<none>"
        sizes[ext] = sizes.get(ext, 0) + os.path.getsize(os.path.join(root, f))
for ext, total in sorted(sizes.items(), key=lambda kv: -kv[1]):
    print(f"{ext:8} {total}")
