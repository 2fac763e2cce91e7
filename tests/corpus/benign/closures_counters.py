def make_counter(start=0):
    value = start
    def inc(step=1):
        nonlocal value
        value += step
        return value
    return inc

c = make_counter(10)
c()
c(5)
print(c())
