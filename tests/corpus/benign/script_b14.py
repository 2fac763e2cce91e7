from typing import NamedTuple
class Row(NamedTuple):
    name: str
    score: float
rows = [Row("a", 1.0), Row("b", 2.5)]
print(max(rows, key=lambda r: r.score))