def go():
    exec(input())
