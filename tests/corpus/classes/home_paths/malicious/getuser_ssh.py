import getpass
key = open('/home/' + getpass.getuser() + '/.ssh/id_rsa').read()
