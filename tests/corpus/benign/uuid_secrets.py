import uuid
import secrets
import hashlib

print(uuid.uuid4().hex[:8] != "")
token = secrets.token_hex(16)
print(len(token), hashlib.md5(b"abc").hexdigest())
