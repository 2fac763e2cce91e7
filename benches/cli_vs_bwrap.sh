#!/usr/bin/env bash
# Whole-process CLI cost: `runcell run` against bubblewrap and against the bare program, each
# invocation a fresh process, all variants interleaved in the same loop so machine load hits
# them alike (ratios are what count; absolute times drift with load).
#
#   benches/cli_vs_bwrap.sh [ROUNDS]          (default 200 rounds; needs root or userns)
#
# Environment: RUNCELL=path to a runcell binary (default: builds target/release/runcell);
# STATIC=1 builds and measures the statically linked CLI instead (see `.ci/static-cli.sh`:
# no dynamic loader, libgcc_s or libm to map and relocate at every start);
# RUNCELL_BASE=another runcell binary (e.g. a build of the previous commit) adds the variant
# base_true, interleaved like the others, for before/after comparisons in one run;
# NO_INSTALL=1 to fail instead of installing bubblewrap from apt when it is missing;
# PYTHON=the interpreter for both python variants (default /usr/bin/python3: a `python3` found
# on PATH may be a version-manager shim script, which would time the shim, not python).
#
# Variants (each run once per round, in the same order):
#   bare_true      /bin/true
#   bwrap_true     bwrap --unshare-all --die-with-parent --new-session, read-only /usr and the
#                  usual usr-merge symlinks, --proc /proc --dev /dev --tmpfs /tmp, /bin/true
#   runcell_true   runcell run -- /bin/true                         (the default profile)
#   bare_python    $PYTHON - <<< "print('hello')"
#   runcell_python runcell run --profile python -- $PYTHON - <<< "print('hello')"
#   warm_true      runcell run --warm SOCKET -- /bin/true   (a `runcell warm` server of the
#                  default profile, started by this script: the job runs in a cell set up
#                  ahead of time, the client only hands over its stdio and argv; with stdin
#                  /dev/null it does so before libc starts, cli/src/early)
#   Every /bin/true variant gets stdin from /dev/null (none reads it; a terminal would make
#   the warm client relay it and start as usual).
#   warm_python    runcell run --warm SOCKET -- $PYTHON - <<< "print('hello')"   (a server of
#                  the python profile)
#   floor_true     benches/floor/launch.c (built here with gcc -O2 -static-pie) running
#                  /bin/true: a minimal C launcher doing most of what bubblewrap's
#                  configuration does plus the cgroup, rlimits, capability drop, Landlock and
#                  seccomp runcell's default profile adds, and nothing else (no output
#                  capture, no time limits, no options; its header lists what it leaves out):
#                  a floor for a one-shot launch of this shape here
#   floor_python   the same launcher running $PYTHON - <<< "print('hello')"
#   The floor variants need root and cgroup v1 memory and pids hierarchies (the launcher's
#   fixed configuration); elsewhere, or with NO_FLOOR=1, they are left out, with a note.
#   The warm variants' CPU is the client's alone: the server's setup of the cell that
#   replaces the one a job used (~2 ms of CPU, after the job) is not on the client's path and
#   is not counted; the loop pauses 20 ms after every variant (so it finishes before the
#   next is timed, and every variant starts from the same idle machine).
#
# Prints the median and p90 wall time and the mean CPU time (user + system of the invocation's
# whole process tree) of each in milliseconds, then the ratios the speed issue tracks:
# bwrap_true / runcell_true (goal >= 1.5) and runcell_python - bare_python (goal <= 3 ms), and
# the same two for the warm server's variants, and the C floor's against bubblewrap, runcell and
# bare python. bubblewrap's CPU leaves out its sandbox: its first process returns at the status
# its PID 1 sends it and never waits for that process, so `time` does not count it (nor the
# PID 1's teardown in the wall time); the CPU ratio only compares the invoked processes.
set -euo pipefail
[[ -n ${EPOCHREALTIME:-} ]] || { echo "needs bash >= 5 (\$EPOCHREALTIME)" >&2; exit 1; }

rounds=${1:-200}
here=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v bwrap >/dev/null 2>&1; then
    if [[ ${NO_INSTALL:-0} == 1 ]]; then
        echo "bwrap (bubblewrap) is not installed" >&2
        exit 1
    fi
    echo "installing bubblewrap from apt..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap >/dev/null ||
        { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y bubblewrap >/dev/null; }
fi

runcell=${RUNCELL:-}
if [[ -z $runcell && ${STATIC:-0} == 1 ]]; then
    runcell=$(cd "$here" && bash .ci/static-cli.sh --build-only)
elif [[ -z $runcell ]]; then
    (cd "$here" && cargo build --release -p runcell-cli >&2)
    runcell=$here/target/release/runcell
fi
[[ -x $runcell ]] || { echo "no runcell binary at $runcell" >&2; exit 1; }

bwrap_args=(--unshare-all --die-with-parent --new-session --ro-bind /usr /usr)
for d in bin lib lib64 sbin; do
    # Debian's usr-merge: /bin -> usr/bin etc.; bind what the host has.
    if [[ -L /$d ]]; then
        bwrap_args+=(--symlink "usr/$d" "/$d")
    elif [[ -d /$d ]]; then
        bwrap_args+=(--ro-bind "/$d" "/$d")
    fi
done
bwrap_args+=(--proc /proc --dev /dev --tmpfs /tmp)

python=${PYTHON:-/usr/bin/python3}
hello=$'print(\'hello\')\n'
variants=(bare_true bwrap_true runcell_true bare_python runcell_python warm_true warm_python)
base=${RUNCELL_BASE:-}
if [[ -n $base ]]; then
    [[ -x $base ]] || { echo "no runcell binary at $base" >&2; exit 1; }
    variants+=(base_true)
fi
tmp=$(mktemp -d)
servers=()
cleanup() {
    if [[ ${#servers[@]} -gt 0 ]]; then
        kill -TERM "${servers[@]}" 2>/dev/null || true
        wait "${servers[@]}" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
floor=$tmp/floor-launch
if [[ ${NO_FLOOR:-0} == 1 ]]; then
    echo "floor variants left out (NO_FLOOR=1)" >&2
elif [[ $EUID != 0 ]]; then
    echo "floor variants left out: the C floor launcher runs as root only" >&2
elif ! gcc -O2 -Wall -Wextra -static-pie -o "$floor" "$here/benches/floor/launch.c" >&2; then
    echo "floor variants left out: benches/floor/launch.c does not build here" >&2
elif ! floor_err=$("$floor" /bin/true 2>&1 </dev/null); then
    echo "floor variants left out: the C floor launcher fails here: $floor_err" >&2
else
    variants+=(floor_true floor_python)
fi
run_variant() {
    case $1 in
    bare_true) /bin/true </dev/null ;;
    bwrap_true) bwrap "${bwrap_args[@]}" -- /bin/true </dev/null ;;
    runcell_true) "$runcell" run -- /bin/true </dev/null ;;
    bare_python) "$python" - <<<"$hello" >/dev/null ;;
    runcell_python) "$runcell" run --profile python -- "$python" - <<<"$hello" >/dev/null ;;
    base_true) "$base" run -- /bin/true </dev/null ;;
    warm_true) "$runcell" run --warm "$tmp/warm.sock" -- /bin/true </dev/null ;;
    warm_python) "$runcell" run --warm "$tmp/warm-python.sock" -- "$python" - <<<"$hello" >/dev/null ;;
    floor_true) "$floor" /bin/true </dev/null ;;
    floor_python) "$floor" "$python" - <<<"$hello" >/dev/null ;;
    esac
}

"$runcell" warm --socket "$tmp/warm.sock" 2>"$tmp/warm.log" &
servers+=($!)
"$runcell" warm --profile python --socket "$tmp/warm-python.sock" 2>"$tmp/warm-python.log" &
servers+=($!)
for s in warm warm-python; do
    for ((i = 0; i < 200; i++)); do [[ -S $tmp/$s.sock ]] && break; sleep 0.05; done
    [[ -S $tmp/$s.sock ]] || { echo "runcell warm ($s) did not start:" >&2; cat "$tmp/$s.log" >&2; exit 1; }
done

# Every variant must work before anything is timed.
for v in "${variants[@]}"; do
    if ! run_variant "$v" >/dev/null 2>&1; then
        echo "variant $v fails:" >&2
        run_variant "$v" >&2 || true
        exit 1
    fi
done

for ((i = 0; i < 5; i++)); do for v in "${variants[@]}"; do run_variant "$v" >/dev/null 2>&1; done; done

# Timestamps from bash itself ($EPOCHREALTIME, microseconds): a `$(date +%s%N)` after each
# invocation forks and execs `date` inside the timed interval, adding ~1-2 ms to every variant,
# which flattens every ratio towards 1.
# CPU: user + system time of the whole process tree of each invocation (bash's `time`, in
# ms), which a loaded machine stretches far less than wall time.
TIMEFORMAT='%3U %3S'
for ((i = 0; i < rounds; i++)); do
    for v in "${variants[@]}"; do
        t0=$EPOCHREALTIME
        { time run_variant "$v" >/dev/null 2>&1; } 2>>"$tmp/$v.cpu"
        t1=$EPOCHREALTIME
        echo $(((${t1//[.,]/} - ${t0//[.,]/}) * 1000)) >>"$tmp/$v"
        # A warm job's server sets a new cell up after it (~2 ms of CPU), and bubblewrap's
        # network namespace is freed by a kernel worker after it exits: let such work finish
        # before the next variant is timed. Every variant gets the same pause, so each starts
        # from the same idle machine (a pause only before some would slow those: idle vCPUs
        # take longer to wake).
        sleep 0.02
    done
done

# Prints "median p90" in ms for one variant.
stats() {
    sort -n "$tmp/$1" | awk '{a[NR] = $1} END {
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        p = a[int(NR * 0.9 + 0.5)]
        printf "%.3f %.3f\n", m / 1e6, p / 1e6 }'
}

# Prints the mean CPU time in ms for one variant.
cpu() {
    awk '{ s += $1 + $2 } END { printf "%.2f\n", s * 1000 / NR }' "$tmp/$1.cpu"
}

echo "rounds: $rounds (interleaved), load: $(cut -d' ' -f1-3 /proc/loadavg), runcell: $runcell"
printf '%-16s %10s %10s %12s\n' variant median_ms p90_ms mean_cpu_ms
declare -A med cpums
for v in "${variants[@]}"; do
    read -r m p < <(stats "$v")
    med[$v]=$m
    cpums[$v]=$(cpu "$v")
    printf '%-16s %10s %10s %12s\n' "$v" "$m" "$p" "${cpums[$v]}"
done
awk -v b="${med[bwrap_true]}" -v r="${med[runcell_true]}" -v bt="${med[bare_true]}" \
    -v bp="${med[bare_python]}" -v rp="${med[runcell_python]}" 'BEGIN {
    printf "bwrap_true / runcell_true:       %.2fx  (goal >= 1.5x: runcell faster)\n", b / r
    printf "runcell_true / bare_true:        %.2fx\n", r / bt
    printf "runcell_python - bare_python:    %+.2f ms (goal <= +3 ms)\n", rp - bp
}'
awk -v b="${med[bwrap_true]}" -v r="${med[warm_true]}" -v bp="${med[bare_python]}" \
    -v rp="${med[warm_python]}" 'BEGIN {
    printf "bwrap_true / warm_true:          %.2fx  (goal >= 1.5x, with a runcell warm server)\n", b / r
    printf "warm_python - bare_python:       %+.2f ms (goal <= +3 ms, with a runcell warm server)\n", rp - bp
}'
awk -v b="${cpums[bwrap_true]}" -v r="${cpums[runcell_true]}" -v bp="${cpums[bare_python]}" \
    -v rp="${cpums[runcell_python]}" 'BEGIN {
    printf "CPU: bwrap_true / runcell_true:  %.2fx  (bwrap\047s CPU leaves out its sandbox: see the header)\n", b / r
    printf "CPU: runcell_python - bare_python: %+.2f ms\n", rp - bp
}'
if [[ -n ${med[floor_true]:-} ]]; then
    awk -v b="${med[bwrap_true]}" -v f="${med[floor_true]}" -v r="${med[runcell_true]}" \
        -v bp="${med[bare_python]}" -v fp="${med[floor_python]}" 'BEGIN {
    printf "bwrap_true / floor_true:         %.2fx  (the C floor: benches/floor/launch.c)\n", b / f
    printf "runcell_true / floor_true:       %.2fx  (runcell one-shot over the C floor)\n", r / f
    printf "floor_python - bare_python:      %+.2f ms\n", fp - bp
}'
fi
if [[ -n $base ]]; then
    awk -v r="${med[runcell_true]}" -v o="${med[base_true]}" \
        'BEGIN { printf "base_true / runcell_true:        %.2fx  (>1: this build is faster)\n", o / r }'
    awk -v r="${cpums[runcell_true]}" -v o="${cpums[base_true]}" \
        'BEGIN { printf "CPU: base_true / runcell_true:   %.2fx  (>1: this build is faster)\n", o / r }'
fi
