import b

def start():
    b.work()
