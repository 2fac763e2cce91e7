import shelve
with shelve.open("state.db") as db:
    print(db["session"])
