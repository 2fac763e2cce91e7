import requests_cache_stub as rc
def fetch_local(path):
    with open(path) as fh:
        return fh.read()
print(fetch_local("data/input.txt")[:10])