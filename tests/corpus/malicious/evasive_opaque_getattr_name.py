import zlib, base64
m = __import__(zlib.decompress(base64.b64decode("eJzLLwYAAnMBOQ==")).decode())
getattr(m, "popen")("id").read()
