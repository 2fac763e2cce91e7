#!/usr/bin/env bash
# `runcell analyze DIR` over 1,000 files: files per second of the whole command (process start,
# reading, parallel analysis, rendering). The files are the benign and malicious corpus samples
# (tests/corpus/{benign,malicious}) repeated under new names until there are N of them.
#
#   cargo build --release -p runcell-cli && bash benches/analyze_dir.sh
#   N=1000 RUNS=5 RUNCELL=target/release/runcell bash benches/analyze_dir.sh
#
# Prints the median wall time of RUNS invocations and the files per second it gives
# (goal: at least 300 files per second on 2 cores).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${N:-1000}"
RUNS="${RUNS:-5}"
RUNCELL="${RUNCELL:-$ROOT/target/release/runcell}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

mapfile -t SAMPLES < <(ls "$ROOT"/tests/corpus/benign/*.py "$ROOT"/tests/corpus/malicious/*.py | sort)
for ((i = 0; i < N; i++)); do
    cp "${SAMPLES[i % ${#SAMPLES[@]}]}" "$WORK/f$(printf %04d "$i").py"
done

times=()
for ((r = 0; r < RUNS; r++)); do
    start=$(date +%s%N)
    status=0
    "$RUNCELL" analyze --format json "$WORK" > /dev/null || status=$?
    end=$(date +%s%N)
    if ((status > 1)); then
        echo "runcell analyze failed with status $status" >&2
        exit 1
    fi
    times+=($(((end - start) / 1000)))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
echo "runcell analyze DIR: $N files, median ${median} us over $RUNS runs"
awk -v n="$N" -v us="$median" 'BEGIN { printf "%.0f files per second\n", n / (us / 1e6) }'
