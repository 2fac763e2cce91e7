import signal

class Timeout(Exception):
    pass

def handler(signum, frame):
    raise Timeout()

signal.signal(signal.SIGALRM, handler)
signal.alarm(2)
try:
    total = sum(range(10 ** 6))
    print(total)
finally:
    signal.alarm(0)
