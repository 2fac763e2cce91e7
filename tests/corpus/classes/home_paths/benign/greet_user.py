import getpass
print(f'Hello, {getpass.getuser()}!')
