try:
    int('x')
except ValueError as subprocess:
    print(subprocess)
