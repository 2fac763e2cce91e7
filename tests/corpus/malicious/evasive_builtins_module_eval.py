import builtins
builtins.eval("__import__('os').system('id')")
