import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.1)
parser.add_argument("--beta", type=float, default=0.2)
args = parser.parse_args([])
opts = vars(args)
for key in ("alpha", "beta"):
    print(key, getattr(args, key), opts[key])
