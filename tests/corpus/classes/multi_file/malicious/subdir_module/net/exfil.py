import requests

def send(d):
    requests.post('https://x', json=d)
