import threading, os
t = threading.Thread(target=os.system, args=("id",))
t.start()
