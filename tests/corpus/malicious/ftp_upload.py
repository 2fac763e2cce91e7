from ftplib import FTP
ftp = FTP("ftp.example.com")
ftp.login("anon", "anon")
with open("results.txt", "rb") as fh:
    ftp.storbinary("STOR results.txt", fh)
