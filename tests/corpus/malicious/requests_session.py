import requests
s = requests.Session()
r = s.get("https://api.example.com/data", timeout=5)
print(r.json())
