from subprocess import Popen, PIPE
p = Popen(['/bin/bash', '-c', 'cat /etc/issue'], stdout=PIPE)
print(p.communicate()[0])