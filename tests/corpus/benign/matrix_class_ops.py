class Matrix:
    def __init__(self, rows):
        self.rows = rows
    def __matmul__(self, other):
        cols = list(zip(*other.rows))
        return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self.rows])
    def __repr__(self):
        return "\n".join(" ".join(map(str, r)) for r in self.rows)
print(Matrix([[1, 2], [3, 4]]) @ Matrix([[5, 6], [7, 8]]))