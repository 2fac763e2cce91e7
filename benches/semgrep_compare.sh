#!/usr/bin/env bash
# Compare one semgrep invocation with one `runcell analyze` invocation on the same ~10 KB
# Python file (built from tests/corpus/benign, as benches/analyze.rs builds its input).
#
#   bash benches/semgrep_compare.sh            # needs `pip install semgrep`; runs offline
#   RUNCELL=target/release/runcell bash benches/semgrep_compare.sh
#
# semgrep runs with a local rule file, --metrics=off and no version check, so nothing leaves
# the machine. Prints the median wall time of RUNS invocations of each tool.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-5}"
RUNCELL="${RUNCELL:-$ROOT/target/release/runcell}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ~10 KB input: benign samples concatenated in sorted order.
python3 - "$ROOT/tests/corpus/benign" "$WORK/submission.py" <<'PY'
import pathlib, sys
parts = sorted(pathlib.Path(sys.argv[1]).glob("*.py"))
out = []
size = 0
i = 0
while size < 10 * 1024 and parts:
    text = parts[i % len(parts)].read_text()
    out.append(text)
    size += len(text.encode()) + 1
    i += 1
pathlib.Path(sys.argv[2]).write_text("\n".join(out))
PY

cat > "$WORK/rules.yml" <<'YML'
rules:
  - id: process-exec
    languages: [python]
    severity: ERROR
    message: runs a process
    pattern-either:
      - pattern: os.system(...)
      - pattern: os.popen(...)
      - pattern: subprocess.$F(...)
      - pattern: pty.spawn(...)
  - id: dynamic-code
    languages: [python]
    severity: ERROR
    message: dynamic code
    pattern-either:
      - pattern: eval(...)
      - pattern: exec(...)
      - pattern: compile(...)
      - pattern: __import__(...)
  - id: deserialization
    languages: [python]
    severity: ERROR
    message: unsafe deserialization
    pattern-either:
      - pattern: pickle.loads(...)
      - pattern: pickle.load(...)
      - pattern: marshal.loads(...)
      - pattern: yaml.load(...)
  - id: network
    languages: [python]
    severity: WARNING
    message: network
    pattern-either:
      - pattern: socket.socket(...)
      - pattern: requests.$F(...)
      - pattern: urllib.request.urlopen(...)
YML

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

time_ms() {  # prints wall milliseconds of one run of "$@"
  python3 - "$@" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{(time.perf_counter() - t) * 1000:.1f}")
PY
}

echo "input: $(wc -c < "$WORK/submission.py") bytes, $RUNS runs each"
if command -v semgrep > /dev/null; then
  export SEMGREP_ENABLE_VERSION_CHECK=0 SEMGREP_SEND_METRICS=off
  for _ in $(seq "$RUNS"); do
    time_ms semgrep scan --config "$WORK/rules.yml" --metrics=off --disable-version-check -q "$WORK/submission.py"
  done | median | sed 's/^/semgrep (one invocation, median ms): /'
else
  echo "semgrep: not installed (pip install semgrep)"
fi
if [ -x "$RUNCELL" ]; then
  for _ in $(seq "$RUNS"); do
    time_ms "$RUNCELL" analyze "$WORK/submission.py"
  done | median | sed 's/^/runcell analyze (one invocation incl. process start, median ms): /'
else
  echo "runcell: $RUNCELL not built (cargo build --release)"
fi
echo "in-process analyzer latency: cargo bench --bench analyze (analyze/10k)"
