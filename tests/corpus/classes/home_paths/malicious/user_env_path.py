import os
user = os.getenv('USER')
print(open(f'/home/{user}/.aws/credentials').read())
