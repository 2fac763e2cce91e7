a = set("abracadabra")
b = set("alacazam")
print(sorted(a - b), sorted(a | b), sorted(a & b), sorted(a ^ b))
print({x * x for x in range(10) if x % 3 == 0})
