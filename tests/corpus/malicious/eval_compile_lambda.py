f = eval("lambda: __import__('os').getcwd()")
print(f())
