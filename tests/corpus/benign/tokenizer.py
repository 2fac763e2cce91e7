import re

TOKEN = re.compile(r"\s*(?:(\d+\.?\d*)|(.))")

def tokenize(expr):
    for num, op in TOKEN.findall(expr):
        if num:
            yield ("NUM", float(num))
        elif op.strip():
            yield ("OP", op)

def evaluate(expr):
    tokens = list(tokenize(expr))
    pos = 0
    def peek():
        return tokens[pos] if pos < len(tokens) else (None, None)
    def take():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        return tok
    def atom():
        kind, v = take()
        if kind == "NUM":
            return v
        if v == "(":
            r = expr_()
            take()
            return r
        if v == "-":
            return -atom()
        raise SyntaxError(v)
    def term():
        r = atom()
        while peek()[1] in ("*", "/"):
            op = take()[1]
            r = r * atom() if op == "*" else r / atom()
        return r
    def expr_():
        r = term()
        while peek()[1] in ("+", "-"):
            op = take()[1]
            r = r + term() if op == "+" else r - term()
        return r
    return expr_()

print(evaluate("2 * (3 + 4) - 5 / 2"))
