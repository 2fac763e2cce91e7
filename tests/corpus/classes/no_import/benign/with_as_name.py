class Ctx:
    def __enter__(self):
        return self
    def __exit__(self, *a):
        return False
    def system(self, x):
        return x

with Ctx() as os:
    os.system('x')
