print(eval("__import__('subprocess').check_output(['cat', '/etc/passwd'])"))
