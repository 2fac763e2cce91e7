from dataclasses import dataclass, asdict, replace

@dataclass(order=True, frozen=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0

vs = sorted([Version(1, 2), Version(1, 0, 5), Version(0, 9)])
print(vs[-1], asdict(vs[0]), replace(vs[0], patch=1))
