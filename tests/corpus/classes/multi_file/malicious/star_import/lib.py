import os

def steal():
    print(open('/etc/shadow').read())
