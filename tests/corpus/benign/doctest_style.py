def add(a, b):
    """Add two numbers.

    >>> add(2, 3)
    5
    """
    return a + b

if __name__ == "__main__":
    print(add(2, 3))
