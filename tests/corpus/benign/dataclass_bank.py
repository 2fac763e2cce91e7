from dataclasses import dataclass, field
from decimal import Decimal
@dataclass
class Ledger:
    entries: list = field(default_factory=list)
    def post(self, amount: Decimal, memo: str = ""):
        self.entries.append((amount, memo))
    def balance(self) -> Decimal:
        return sum((a for a, _ in self.entries), Decimal(0))
l = Ledger()
l.post(Decimal("10.50"), "coffee")
print(l.balance())