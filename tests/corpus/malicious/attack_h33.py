import inspect
frame = inspect.currentframe()
print(frame.f_back.f_locals)