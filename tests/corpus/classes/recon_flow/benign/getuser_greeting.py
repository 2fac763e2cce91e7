import getpass
print('hi', getpass.getuser())
