#!/usr/bin/env bash
# The statically linked `runcell` (README "Benchmarks": a one-shot `runcell run` starts ~0.3 ms
# sooner without the dynamic loader, libgcc_s and libm): build it the way README gives, check
# that it is static, and run the CLI's main jobs with it, as root and as an unprivileged user.
#
#   .ci/static-cli.sh               build, check, smoke-test; prints nothing on success but
#                                   the steps
#   .ci/static-cli.sh --build-only  build only; prints the binary's path on stdout
set -euo pipefail
cd "$(dirname "$0")/.."

triple=$(rustc -vV | sed -n 's/^host: //p')
# An explicit --target keeps the flag off build scripts and proc macros (which cannot be
# static); the binary lands in target/<triple>/release/.
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release -p runcell-cli --target "$triple" >&2
bin=$PWD/target/$triple/release/runcell
if [[ ${1:-} == --build-only ]]; then
    echo "$bin"
    exit 0
fi

fail() {
    echo "static CLI: $*" >&2
    exit 1
}
# Static: no program interpreter (the dynamic loader) in the program headers.
if readelf -l "$bin" | grep -q 'INTERP'; then
    fail "$bin has a program interpreter: not statically linked"
fi

check() { # user, then the command line; stdin from $input
    local who=$1
    shift
    if [[ $who == root ]]; then
        "$@" <<<"$input"
    else
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@" <<<"$input"
    fi
}
for who in root nobody; do
    input=''
    out=$(check "$who" "$bin" run -- /bin/echo static ok) || fail "run as $who failed"
    [[ $out == "static ok" ]] || fail "run as $who printed '$out'"
    input='import sys; print(sum(range(10)), sys.argv[1:])'
    out=$(check "$who" "$bin" run --profile python -- /usr/bin/python3 - a b) ||
        fail "python as $who failed"
    [[ $out == "45 ['a', 'b']" ]] || fail "python as $who printed '$out'"
    input=''
    # A limit still kills the whole run (exit status 128 + SIGKILL, DESIGN §5).
    status=0
    check "$who" "$bin" run --wall-time 0.3 -- /bin/sleep 5 >/dev/null 2>&1 || status=$?
    [[ $status == 137 ]] || fail "a wall-time limit as $who exited $status, not 137"
    echo "static CLI: run, python and a limit as $who: ok" >&2
done
"$bin" check >/dev/null || fail "runcell check failed"
"$bin" analyze - <<<'print(1)' >/dev/null || fail "analyze failed"
echo "static CLI: ok ($bin)" >&2
