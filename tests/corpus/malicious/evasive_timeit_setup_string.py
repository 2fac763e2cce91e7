from timeit import Timer
Timer("x", setup="import os; os.system('id')")
Timer(stmt="import subprocess; subprocess.run(['id'])").timeit(1)
