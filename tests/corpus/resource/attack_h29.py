while 1:
    a = [1] * 1000000
    b = a + a