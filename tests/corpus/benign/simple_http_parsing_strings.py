raw = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
head, _, body = raw.partition("\r\n\r\n")
request_line, *headers = head.split("\r\n")
method, path, version = request_line.split()
fields = dict(h.split(": ", 1) for h in headers)
print(method, path, version, fields)
