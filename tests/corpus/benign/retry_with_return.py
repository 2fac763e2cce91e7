import random

def roll_until_six(rng):
    while True:
        v = rng.randint(1, 6)
        if v == 6:
            return v

print(roll_until_six(random.Random(3)))
