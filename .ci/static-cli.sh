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
# The warm client's early path (cli/src/early): its machine code keeps to its rules (no call
# out, no relocated data, no TLS: it runs before libc starts)...
python3 .ci/check-early-entry.py "$bin" >&2 || fail "the early entry's code breaks its rules"
# ...and a client with stdin /dev/null, a file or a pipe runs it: no libc start-up (brk,
# set_tid_address, mmap, the runtime's sigaltstack) between execve and the request. Results are
# checked for each, for one handed over to the usual code after the request (--report), and
# for one that starts as usual (a socket on stdin).
for who in root nobody; do
    who_cmd=()
    [[ $who == root ]] || who_cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    as_who() { "${who_cmd[@]}" "$@"; } # as check, with the caller's stdin
    wdir=$(mktemp -d)
    chmod 0777 "$wdir"
    # Not through as_who: a backgrounded function is a subshell, and $! must be the server.
    "${who_cmd[@]}" "$bin" warm --socket "$wdir/w.sock" >/dev/null 2>&1 &
    server=$!
    for ((i = 0; i < 400; i++)); do [[ -S $wdir/w.sock ]] && break; sleep 0.05; done
    [[ -S $wdir/w.sock ]] || fail "runcell warm as $who never listened"
    trap 'kill -TERM $server 2>/dev/null || true' EXIT
    warm() { # stdin kind (null, file, pipe), then the program
        local kind=$1
        shift
        case $kind in
        null) as_who "$bin" run --warm "$wdir/w.sock" -- "$@" </dev/null ;;
        file) as_who "$bin" run --warm "$wdir/w.sock" -- "$@" <"$wdir/in" ;;
        pipe) echo -n | as_who "$bin" run --warm "$wdir/w.sock" -- "$@" ;;
        esac
    }
    echo 'from a file' >"$wdir/in"
    chmod 0644 "$wdir/in"
    for kind in null file pipe; do
        out=$(warm "$kind" /bin/sh -c 'echo "$0 $#"; exit 3' arg '' 'b c' 2>&1) && status=0 || status=$?
        [[ $status == 3 && $out == "arg 2" ]] || fail "warm ($kind, $who): exit $status, '$out'"
        status=0
        warm "$kind" /bin/sh -c 'kill -9 $$' >/dev/null 2>&1 || status=$?
        [[ $status == 137 ]] || fail "warm ($kind, $who): a killed job exited $status, not 137"
        out=$(warm "$kind" no-such-program 2>&1) && status=0 || status=$?
        [[ $status == 125 && $out == *"not found"* ]] ||
            fail "warm ($kind, $who): a missing program exited $status, '$out'"
    done
    out=$(warm file /bin/cat) || fail "warm (file, $who): cat failed"
    [[ $out == "from a file" ]] || fail "warm (file, $who): cat printed '$out'"
    out=$(printf 'a\nb\n' | as_who "$bin" run --warm "$wdir/w.sock" -- /bin/sh -c 'wc -l') ||
        fail "warm (pipe, $who): wc failed"
    [[ $out == 2 ]] || fail "warm (pipe, $who): wc -l printed '$out'"
    out=$(as_who "$bin" run --warm "$wdir/w.sock" --report - -- /bin/sh -c 'exit 4' \
        </dev/null 2>&1) && status=0 || status=$?
    [[ $status == 4 && $out == *'"verdict": "exit_nonzero"'* ]] ||
        fail "warm --report as $who: exit $status, '$out'"
    out=$(python3 -c 'import socket, subprocess, sys
a, b = socket.socketpair()
b.close()
sys.exit(subprocess.call(sys.argv[1:], stdin=a))' "${who_cmd[@]}" "$bin" run --warm "$wdir/w.sock" \
        -- /bin/sh -c 'cat; echo usual; exit 6' 2>&1) && status=0 || status=$?
    [[ $status == 6 && $out == usual ]] || fail "warm (socket, $who): exit $status, '$out'"
    # The early path under strace, as this user, with stdin /dev/null, a file and a pipe: the
    # client's own system calls after its execve (setpriv's are left out).
    trace=$(mktemp)
    for input in /dev/null "$wdir/in" pipe; do
        if [[ $input == pipe ]]; then
            echo data | strace -f -o "$trace" "${who_cmd[@]}" "$bin" run --warm "$wdir/w.sock" \
                -- /bin/cat >/dev/null || fail "warm under strace as $who failed"
        else
            strace -f -o "$trace" "${who_cmd[@]}" "$bin" run --warm "$wdir/w.sock" -- /bin/true \
                <"$input" || fail "warm under strace as $who failed"
        fi
        own=$(awk -v bin="\"$bin\"" '!pid && index($0, "execve(" bin) { pid = $1 }
            pid && $1 == pid' "$trace")
        if grep -Eq '\b(brk|set_tid_address|sigaltstack|mmap)\(' <<<"$own" ||
            ! grep -q 'sendmsg(' <<<"$own"; then
            cat "$trace" >&2
            fail "the warm client as $who, stdin $input, did not take the early path"
        fi
    done
    rm -f "$trace"
    kill -TERM "$server"
    wait "$server" || fail "runcell warm as $who did not stop cleanly"
    trap - EXIT
    rm -rf "$wdir"
    echo "static CLI: warm client (early path, handover and usual start) as $who: ok" >&2
done
"$bin" check >/dev/null || fail "runcell check failed"
"$bin" analyze - <<<'print(1)' >/dev/null || fail "analyze failed"
echo "static CLI: ok ($bin)" >&2
