from multiprocessing import Pool, cpu_count

def square(x):
    return x * x

if __name__ == "__main__":
    with Pool(min(2, cpu_count())) as pool:
        print(pool.map(square, range(10)))
