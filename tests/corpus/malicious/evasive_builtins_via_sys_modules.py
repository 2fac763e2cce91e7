import sys
sys.modules["builtins"].exec("print(4)")
