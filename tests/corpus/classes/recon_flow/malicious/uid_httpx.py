import os, httpx
httpx.get('https://x', params={'uid': os.getuid()})
