import threading

def spin():
    while True:
        threading.Thread(target=spin).start()

spin()
