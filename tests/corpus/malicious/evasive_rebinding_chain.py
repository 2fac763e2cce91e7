import subprocess
a = subprocess
b = a
c = b.check_output
print(c(["id"]))
