urllib.request.urlopen('http://x').read()
