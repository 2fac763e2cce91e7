import httpx
with httpx.Client() as c:
    c.get('https://example.com')
