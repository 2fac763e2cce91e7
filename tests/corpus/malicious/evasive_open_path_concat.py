base = "/et" + "c"
print(open(base + "/passwd").read())
