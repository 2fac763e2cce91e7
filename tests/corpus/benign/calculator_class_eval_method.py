class Expression:
    def __init__(self, left, op, right):
        self.left, self.op, self.right = left, op, right

    def eval(self):
        a = self.left.eval() if isinstance(self.left, Expression) else self.left
        b = self.right.eval() if isinstance(self.right, Expression) else self.right
        return {"+": a + b, "-": a - b, "*": a * b}[self.op]

e = Expression(Expression(2, "*", 3), "+", 4)
print(e.eval())
