rows = [{"lib": "numpy", "stars": 25000}, {"lib": "pandas", "stars": 40000}]
cols = list(rows[0])
lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
for r in rows:
    lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
print("\n".join(lines))
