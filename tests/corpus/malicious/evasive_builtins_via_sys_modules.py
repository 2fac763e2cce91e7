import sys
sys.modules["builtins"].exec("__import__('os').system('id')")
