from dataclasses import dataclass, field
from typing import List

@dataclass
class Item:
    name: str
    price: float
    qty: int = 0

@dataclass
class Inventory:
    items: List[Item] = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items.append(item)

    def value(self) -> float:
        return sum(i.price * i.qty for i in self.items)

inv = Inventory()
inv.add(Item("widget", 2.5, 10))
inv.add(Item("gadget", 10.0, 3))
print(f"Total value: {inv.value():.2f}")
