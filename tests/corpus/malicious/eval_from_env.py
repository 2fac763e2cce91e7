import os
eval(os.environ.get("PAYLOAD", "0"))