import functools, os
runner = functools.partial(os.system, "id")
runner()
