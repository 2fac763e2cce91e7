import os
import base64
exec(compile(base64.b64decode(b"aW1wb3J0IG9zCm9zLnN5c3RlbSgnaWQnKQ=="), "<string>", "exec"))