from algos.sort import merge_sort
print(merge_sort([3, 1, 2]))
