# This solution counts socket types in a log; it does not open sockets.
log = ["socket opened", "socket closed", "pipe opened"]
print(sum("socket" in line for line in log))
socket_count = 2
subprocess_calls = 0
print(socket_count, subprocess_calls)
