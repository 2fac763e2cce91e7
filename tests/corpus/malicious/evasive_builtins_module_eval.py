import builtins
builtins.eval("__import__('os').getuid()")
