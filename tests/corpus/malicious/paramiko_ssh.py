import paramiko
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect("192.0.2.2", username="root", password="toor")
c.exec_command("id")
