def show():
    print(shutil)

shutil = 'not a module'
show()
