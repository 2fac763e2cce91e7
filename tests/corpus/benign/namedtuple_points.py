from collections import namedtuple
import math

Point = namedtuple("Point", "x y")
pts = [Point(0, 0), Point(3, 4), Point(-1, 2)]
far = max(pts, key=lambda p: math.hypot(p.x, p.y))
print(far, far._asdict())
