import os
print(os.getenv('LANG', 'C'))
