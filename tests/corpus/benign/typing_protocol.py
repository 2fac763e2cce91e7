from typing import Protocol, Iterable, TypeVar, Generic, Optional

T = TypeVar("T")

class Shape(Protocol):
    def area(self) -> float: ...

class Square:
    def __init__(self, side: float) -> None:
        self.side = side
    def area(self) -> float:
        return self.side ** 2

class Stack(Generic[T]):
    def __init__(self) -> None:
        self._items: list[T] = []
    def push(self, x: T) -> None:
        self._items.append(x)
    def pop(self) -> Optional[T]:
        return self._items.pop() if self._items else None

def total_area(shapes: Iterable[Shape]) -> float:
    return sum(s.area() for s in shapes)

print(total_area([Square(2), Square(3)]))
s: Stack[int] = Stack()
s.push(1)
print(s.pop())
