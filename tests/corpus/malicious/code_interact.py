import code
code.interact(local=globals())
