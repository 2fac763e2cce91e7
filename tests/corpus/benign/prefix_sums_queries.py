import sys

def main():
    it = iter(sys.stdin.read().split())
    n, q = int(next(it)), int(next(it))
    pre = [0]
    for _ in range(n):
        pre.append(pre[-1] + int(next(it)))
    out = []
    for _ in range(q):
        l, r = int(next(it)), int(next(it))
        out.append(str(pre[r] - pre[l - 1]))
    sys.stdout.write("\n".join(out) + "\n")

if __name__ == "__main__":
    main()
