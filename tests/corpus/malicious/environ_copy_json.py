import json, os
print(json.dumps(os.environ.copy(), indent=2))
