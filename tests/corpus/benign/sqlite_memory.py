import sqlite3

con = sqlite3.connect(":memory:")
cur = con.cursor()
cur.execute("CREATE TABLE t (name TEXT, score INTEGER)")
cur.executemany("INSERT INTO t VALUES (?, ?)", [("a", 3), ("b", 5), ("c", 1)])
for row in cur.execute("SELECT name, score FROM t ORDER BY score DESC"):
    print(row)
con.close()
