import requests
s = requests.Session()
s.post('https://example.com/collect', data={'k': 'v'})
