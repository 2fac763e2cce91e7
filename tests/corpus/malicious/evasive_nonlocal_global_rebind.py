runner = None

def setup():
    global runner
    import os
    runner = os.system

setup()
runner("id")
