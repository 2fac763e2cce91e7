import os
DEBUG = os.environ.get('DEBUG', '0') == '1'
print(DEBUG)
