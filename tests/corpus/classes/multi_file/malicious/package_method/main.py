from pkg.client import Client
Client().beacon()
