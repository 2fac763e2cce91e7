#!/usr/bin/env bash
# MSRV check. Only one toolchain is available here, so instead of building with the declared
# rust-version this verifies that it is the TRUE minimum:
#   1. for every workspace package that declares a rust-version, the highest rust-version
#      declared by its normal and build dependencies (all features; dev-dependencies do not
#      reach users) is computed from `cargo metadata` + `cargo tree`; the declared value must
#      equal max(that, FLOOR), where FLOOR is what runcell's own code needs (edition 2024 and
#      let-chains: 1.88);
#   2. `cargo check` builds everything with that rust-version in the manifests, and clippy's
#      `incompatible_msrv` lint (run by .ci/run with -D warnings) rejects std APIs newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."
FLOOR=1.88

cargo metadata --format-version 1 --locked >/tmp/runcell-msrv-metadata.json
status=0
for pkg in runcell runcell-cli; do
  cargo tree -p "$pkg" --all-features -e normal,build --prefix none -f '{p}' --locked \
    | sed -e 's/ (.*)$//' -e 's/ (\*)$//' | sort -u >"/tmp/runcell-msrv-deps-$pkg.txt"
  python3 - "$pkg" "$FLOOR" <<'PY' || status=1
import json, sys
pkg, floor = sys.argv[1], sys.argv[2]
meta = json.load(open("/tmp/runcell-msrv-metadata.json"))
deps = {l.strip() for l in open(f"/tmp/runcell-msrv-deps-{pkg}.txt") if l.strip()}
def ver(v):
    return tuple(int(x) for x in v.split("."))[:2] if v else (0, 0)
declared, need, why = None, ver(floor), f"runcell's own code (floor {floor})"
for p in meta["packages"]:
    key = f"{p['name']} v{p['version']}"
    if p["name"] == pkg and p["source"] is None:
        declared = p.get("rust_version")
    elif key in deps and ver(p.get("rust_version")) > need:
        need, why = ver(p.get("rust_version")), f"{p['name']} {p['version']} declares {p['rust_version']}"
want = ".".join(map(str, need))
if declared is None:
    print(f"{pkg}: no rust-version declared; it must be {want} ({why})")
    sys.exit(1)
if ver(declared) != need:
    print(f"{pkg}: rust-version = {declared}, but the true MSRV is {want} ({why})")
    sys.exit(1)
print(f"{pkg}: rust-version {declared} = max declared by its dependency graph ({why})")
PY
done
cargo check --workspace --all-features --locked
exit "$status"
