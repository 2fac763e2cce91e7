from urllib.request import urlopen
html = urlopen("http://example.com").read()
print(len(html))
