import random

random.seed(7)
trials = 100000
inside = sum(1 for _ in range(trials) if random.random() ** 2 + random.random() ** 2 <= 1)
print("pi ~", 4 * inside / trials)
