#!/usr/bin/env bash
# CPython's own regression suite (Debian's libpython3.11-testsuite), a subset, run bare as an
# unprivileged user (uid 65534, the fair baseline) and inside `runcell run` with the python
# profile (limits raised so the suite's own size is not what fails), then compared test by
# test. Prints per-module counts and every test whose result differs.
#
#   sudo apt-get install libpython3.11-testsuite
#   cargo build -p runcell-cli && bash benches/cpython_suite.sh [MODULE...]
#
# Needs root (to run the bare side as uid 65534 with setpriv). Takes tens of minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNCELL=${RUNCELL:-target/debug/runcell}
MODULES=("$@")
if [ ${#MODULES[@]} -eq 0 ]; then
    MODULES=(test_asyncio test_socket test_os test_subprocess test_pathlib test_shutil
             test_concurrent_futures test_multiprocessing_spawn)
fi
[ -d /usr/lib/python3.11/test ] || { echo "libpython3.11-testsuite is not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (the bare side drops to uid 65534)" >&2; exit 1; }
OUT=$(mktemp -d /tmp/cpython-suite.XXXXXX)
chmod 755 "$OUT"
cat > "$OUT/profile.toml" <<'EOF'
extends = "python"
[limits]
wall_time = 1800
cpu_time = 1800
memory = "4G"
pids = 512
output = "64M"
file_size = "256M"
open_files = 1024
tmp_size = "1G"
EOF
for m in "${MODULES[@]}"; do
    bare_dir=$(mktemp -d /tmp/cpython-bare.XXXXXX)
    chown 65534:65534 "$bare_dir"
    echo "== $m: bare" >&2
    (cd "$bare_dir" && timeout 1800 setpriv --reuid 65534 --regid 65534 --clear-groups \
        env -i PATH=/usr/bin:/bin HOME="$bare_dir" LANG=C.UTF-8 TMPDIR="$bare_dir" \
        /usr/bin/python3 -m test -v "$m" > "$OUT/$m.bare.log" 2>&1 < /dev/null) || true
    rm -rf "$bare_dir"
    echo "== $m: runcell" >&2
    timeout 1900 "$RUNCELL" run --profile "$OUT/profile.toml" -- \
        python3 -m test -v "$m" > "$OUT/$m.runcell.log" 2>&1 < /dev/null || true
done
python3 - "$OUT" "${MODULES[@]}" <<'EOF'
import re, sys
out, mods = sys.argv[1], sys.argv[2:]
line = re.compile(r'^(test\w*) \(([\w.]+)\)(?:\n.*?)? \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)', re.M)
def parse(path):
    try:
        text = open(path, errors='replace').read()
    except OSError:
        return {}, 'missing'
    res = {f'{cls}.{name}': st for name, cls, st in line.findall(text)}
    tail = [l for l in text.splitlines() if l.startswith('Result:') or 'Total duration' in l]
    return res, ' '.join(tail[-2:])
print(f'{"module":32} {"bare ok/fail/err/skip":>24} {"runcell ok/fail/err/skip":>26}')
diffs = []
for m in mods:
    b, bt = parse(f'{out}/{m}.bare.log')
    r, rt = parse(f'{out}/{m}.runcell.log')
    def counts(d):
        v = list(d.values())
        return '/'.join(str(v.count(s)) for s in ['ok', 'FAIL', 'ERROR', 'skipped'])
    print(f'{m:32} {counts(b):>24} {counts(r):>26}')
    for t in sorted(set(b) | set(r)):
        if b.get(t) != r.get(t):
            diffs.append((m, t, b.get(t, '-'), r.get(t, '-')))
print(f'\n{len(diffs)} tests differ (module, test, bare, runcell):')
for d in diffs:
    print('  ' + ' | '.join(d))
print(f'\nlogs: {out}')
EOF
