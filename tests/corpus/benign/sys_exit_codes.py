import sys

def main(argv):
    if len(argv) < 2:
        print("usage: prog N", file=sys.stderr)
        return 2
    n = int(argv[1])
    print(n * n)
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
