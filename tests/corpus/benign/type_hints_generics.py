from typing import Dict, List, Tuple, Callable, Union

Number = Union[int, float]

def apply_all(fs: List[Callable[[Number], Number]], x: Number) -> List[Number]:
    return [f(x) for f in fs]

def histogram(xs: List[int]) -> Dict[int, int]:
    h: Dict[int, int] = {}
    for x in xs:
        h[x] = h.get(x, 0) + 1
    return h

pairs: List[Tuple[str, int]] = [("a", 1)]
print(apply_all([abs, lambda v: v * 2], -3), histogram([1, 1, 2]), pairs)
