import os, multiprocessing

def w(x):
    return x * 2

if __name__ == '__main__':
    with multiprocessing.Pool(2) as p:
        print(p.map(w, [1, 2]), os.environ.get('HOME'))
