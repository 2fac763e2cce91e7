from concurrent.futures import ThreadPoolExecutor

def work(n):
    return sum(i * i for i in range(n))

with ThreadPoolExecutor(max_workers=4) as ex:
    print(list(ex.map(work, [10, 100, 1000])))
