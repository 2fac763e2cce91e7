import pwd, os, smtplib
me = pwd.getpwuid(os.getuid()).pw_name
smtplib.SMTP('mail.example').sendmail('a', 'b', me)
