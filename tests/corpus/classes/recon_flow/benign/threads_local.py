import os, threading
threading.Thread(target=print, args=(os.getpid(),)).start()
