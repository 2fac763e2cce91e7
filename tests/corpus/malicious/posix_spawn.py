import os
pid = os.posix_spawn("/bin/sh", ["sh", "-c", "echo pwned"], {})
os.waitpid(pid, 0)
