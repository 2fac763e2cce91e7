from itertools import combinations, permutations, product, accumulate, groupby

nums = [3, 1, 4, 1, 5]
print(list(combinations(nums, 2))[:5])
print(len(list(permutations("abcd"))))
print(list(product([0, 1], repeat=3)))
print(list(accumulate(nums)))
for key, grp in groupby(sorted(nums)):
    print(key, len(list(grp)))
