def outer():
    import subprocess as sp
    def inner(c):
        return sp.check_output(c, shell=True)
    return inner

print(outer()("id"))
