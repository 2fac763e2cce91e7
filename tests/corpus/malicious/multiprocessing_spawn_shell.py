import multiprocessing, os

def worker():
    os.system("sleep 1000 &")

procs = [multiprocessing.Process(target=worker) for _ in range(500)]
for p in procs:
    p.start()
