import smtplib
server = smtplib.SMTP("smtp.example.com", 25)
server.sendmail("a@example.com", "b@example.com", open("/etc/hostname").read())
