import paramiko
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect('10.0.0.2', username='root', password='toor')
stdin, out, err = c.exec_command('uname -a')
