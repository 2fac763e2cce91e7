import pdb
x = [1, 2, 3]
pdb.set_trace()
print(sum(x))
