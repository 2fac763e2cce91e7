f = eval("lambda: __import__('os').system('id')")
print(f())
