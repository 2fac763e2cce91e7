class Calculator:
    def op_add(self, a, b):
        return a + b
    def op_mul(self, a, b):
        return a * b
    def run(self, name, a, b):
        handler = getattr(self, "op_" + name, None)
        if handler is None:
            raise ValueError(name)
        return handler(a, b)

c = Calculator()
for line in ["add 2 3", "mul 4 5"]:
    op, x, y = line.split()
    print(c.run(op, int(x), int(y)))
