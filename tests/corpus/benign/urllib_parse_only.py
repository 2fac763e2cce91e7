from urllib.parse import urlparse, parse_qs, urlencode, urljoin

u = urlparse("https://example.com/search?q=python&page=2")
print(u.netloc, u.path, parse_qs(u.query))
print(urlencode({"a": 1, "b": "x y"}))
print(urljoin("https://example.com/a/b", "../c"))
