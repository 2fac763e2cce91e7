def f():
    import os
    return os.path.join('a', 'b')

print(f())
