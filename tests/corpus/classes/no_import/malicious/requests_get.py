r = requests.get('http://example.com/p')
print(r.text)
