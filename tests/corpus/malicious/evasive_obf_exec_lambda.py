import base64 as b
(lambda c: exec(c))(b.b64decode("cHJpbnQoJ2hpJyk=").decode())