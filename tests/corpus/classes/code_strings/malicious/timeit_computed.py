import sys, timeit
timeit.timeit(sys.argv[1], number=1)
