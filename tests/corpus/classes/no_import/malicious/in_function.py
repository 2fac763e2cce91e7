def go():
    return os.popen('uname -a').read()

print(go())
