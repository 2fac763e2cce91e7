import subprocess_helpers_docs  # a local module name, not subprocess
print("done")