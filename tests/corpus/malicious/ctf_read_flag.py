print(open("/flag").read())
