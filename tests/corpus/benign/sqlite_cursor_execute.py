import sqlite3

db = sqlite3.connect("local.db")
db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
db.execute("INSERT INTO notes (body) VALUES (?)", ("hello",))
db.commit()
for row in db.execute("SELECT id, body FROM notes"):
    print(row)
db.close()
