import subprocess as s
print(s.run(['uname','-a'],capture_output=True).stdout)