def f():
    import subprocess
    locals()["subprocess"].run(["id"])

f()
