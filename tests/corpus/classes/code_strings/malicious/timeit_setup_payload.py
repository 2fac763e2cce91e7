from timeit import timeit
timeit("pass", setup="import subprocess; subprocess.call(['sh', '-c', 'id'])", number=1)
