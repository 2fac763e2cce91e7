from array import array

xs = array("d", [1.0, 2.0, 3.0])
ys = array("d", [x * x for x in xs])
print(sum(ys), xs.tobytes()[:8])
