class InsufficientFunds(Exception):
    pass

class Account:
    interest = 0.0

    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount

    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(self.owner)
        self.balance -= amount

    def __repr__(self):
        return f"{type(self).__name__}({self.owner!r}, {self.balance})"

class Savings(Account):
    interest = 0.02
    def accrue(self):
        self.balance *= 1 + self.interest

a = Savings("ann", 100)
a.deposit(50)
a.accrue()
print(a)
