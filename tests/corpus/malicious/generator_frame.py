def gen():
    yield 1
g = gen()
frame = g.gi_frame
print(frame.f_globals)
