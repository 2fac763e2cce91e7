import argparse
import sys

def build_parser():
    p = argparse.ArgumentParser(description="Summarise numbers")
    p.add_argument("files", nargs="*", help="input files (default: stdin)")
    p.add_argument("--mean", action="store_true")
    return p

def numbers(files):
    if not files:
        yield from (float(x) for x in sys.stdin.read().split())
        return
    for name in files:
        with open(name) as fh:
            yield from (float(x) for x in fh.read().split())

def main(argv=None):
    args = build_parser().parse_args(argv)
    xs = list(numbers(args.files))
    if args.mean and xs:
        print(sum(xs) / len(xs))
    else:
        print(sum(xs))

if __name__ == "__main__":
    main()
