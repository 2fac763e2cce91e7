import random
deck = [r + s for r in "23456789TJQKA" for s in "cdhs"]
random.shuffle(deck)
hand = sorted(deck[:5])
print(hand)