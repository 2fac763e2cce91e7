import ast

raw = input().strip() or "[1, 2, (3, 4)]"
value = ast.literal_eval(raw)
print(type(value).__name__, value)
