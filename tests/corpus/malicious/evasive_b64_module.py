import base64
m = __import__(base64.b64decode("c3VicHJvY2Vzcw==").decode())
m.call(["id"])
