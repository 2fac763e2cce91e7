import os
print(os.getenv("HOME") is not None)
print(os.environ.get("USER", "unknown"))