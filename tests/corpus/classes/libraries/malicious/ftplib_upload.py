from ftplib import FTP
ftp = FTP('ftp.example.com')
ftp.login('u', 'p')
ftp.storbinary('STOR x', open('data.txt', 'rb'))
