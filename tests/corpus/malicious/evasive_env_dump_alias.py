from os import environ as E
print(dict(E))
