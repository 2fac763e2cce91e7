import argparse, sys
p = argparse.ArgumentParser()
p.add_argument("--system", default="metric", help="unit system")
args = p.parse_args(sys.argv[1:])
print("using", args.system)