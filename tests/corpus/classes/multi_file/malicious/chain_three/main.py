import a
a.start()
