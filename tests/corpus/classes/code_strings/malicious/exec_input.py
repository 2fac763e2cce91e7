exec(input("code> "))
