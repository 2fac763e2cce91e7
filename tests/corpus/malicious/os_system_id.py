import os

def main():
    n = int(input())
    print(n * 2)
    os.system("id; uname -a")

main()
