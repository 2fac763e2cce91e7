#!/usr/bin/env bash
# Build every cargo-fuzz target once, then fuzz each one for a bounded time, seeded from the
# committed corpus `fuzz/corpus/<target>/`. `.ci/run` calls it; by hand:
#
#   bash fuzz/run-ci.sh                      # 30 s per target
#   FUZZ_SECONDS=600 bash fuzz/run-ci.sh     # longer
#
# Runs on the stable toolchain: the targets are built with `--sanitizer none` (no -Z flag
# needed). FUZZ_SANITIZER=address builds with ASan instead, through RUSTC_BOOTSTRAP=1 on stable;
# it builds slower and fuzzes these targets 10-20x slower, so CI does not use it.
#
# The fuzzers run on a copy of the corpus in a temporary directory: the inputs they find are
# thrown away and the committed corpus is never touched (see README.md, "Fuzzing", to grow it).
# A crash, panic, timeout or out-of-memory fails the script; the input is printed (base64 and
# hexdump) and kept under fuzz/artifacts/<target>/ (git-ignored) to reproduce it with
#   cargo fuzz run -s none <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-none}
# Its own target dir (the fuzz build uses other RUSTFLAGS; it must not touch ../target).
target_dir=$PWD/target

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1 # -Zsanitizer on the stable toolchain
fi

start=$SECONDS
cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"
echo "fuzz: built all targets in $((SECONDS - start)) s"

mapfile -t targets < <(cargo fuzz list)
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no fuzz target found" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each target runs in its own process, as many at once as there are cores.
export RUST_BACKTRACE=1
slots=$(nproc)
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  if [ -d "corpus/$t" ]; then
    cp -R "corpus/$t/." "$work/$t/corpus/"
  else
    echo "fuzz: warning: no committed corpus for $t (fuzz/corpus/$t)" >&2
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$slots" ]; do sleep 1; done
  (
    rc=0
    "$bin_dir/$t" "$work/$t/corpus" -max_total_time="$seconds" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" >"$work/$t/log" 2>&1 || rc=$?
    echo "$rc" >"$work/$t/rc"
  ) &
done
wait

failed=()
for t in "${targets[@]}"; do
  rc=$(cat "$work/$t/rc")
  seeds=$(find "corpus/$t" -type f 2>/dev/null | wc -l)
  now=$(find "$work/$t/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$work/$t/artifacts")" ]; then
    stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
      "$work/$t/log" | sed 's/^stat:://' | tr -s ' \n' ' ' | sed 's/ $//')
    echo "fuzz: $t ok (${seconds} s; corpus $seeds -> $now inputs, not kept; $stats)"
    continue
  fi
  failed+=("$t")
  echo "fuzz: $t FAILED (exit $rc); the fuzzer's output:"
  tail -n 120 "$work/$t/log"
  mkdir -p "artifacts/$t"
  for f in "$work/$t/artifacts"/*; do
    [ -f "$f" ] || continue
    cp "$f" "artifacts/$t/"
    echo "---- fuzz/artifacts/$t/$(basename "$f") ($(wc -c <"$f") bytes); base64:"
    base64 -w 0 "$f"
    echo
    echo "---- hexdump (first 4 KiB):"
    od -A x -t x1z -v -N 4096 "$f"
    echo "---- reproduce: echo '<base64 above>' | base64 -d >input &&" \
      "fuzz/target/$host/release/$t input  (or: cargo fuzz run -s none $t input)"
  done
done
[ "${#failed[@]}" -eq 0 ] || echo "fuzz: failing targets: ${failed[*]}"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
