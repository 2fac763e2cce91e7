# Service-test dependencies, sourced by .ci/run (it exports variables for `cargo test`):
#   - PostgreSQL from apt; a throwaway cluster under a temp dir, run as the `postgres` user
#     when we are root, on a loopback port -> RUNCELL_TEST_POSTGRES (a postgres:// URL);
#     the PostgreSQL programs -> RUNCELL_TEST_PG_BIN (cli/tests/restarts.rs starts, crashes
#     and restarts a cluster of its own with them)
#   - a venv with the official Judge0 Python SDK from PyPI -> RUNCELL_TEST_PYTHON
# The cluster is stopped and the directory removed when the sourcing shell exits.

# No "runcell" in the name: tests/leaks.rs counts /tmp entries naming runcell, and other
# jobs on the same machine may start or stop their own service directory meanwhile.
svc_dir=$(mktemp -d /tmp/ci-services.XXXXXX)
chmod 755 "$svc_dir"

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$svc_dir/pg"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$svc_dir/pg"
  pg_as=(runuser -u postgres --)
else
  pg_as=()
fi
"${pg_as[@]}" "$pg_bin/initdb" -D "$svc_dir/pg/data" -A trust -U postgres -E UTF8 >/dev/null
"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$svc_dir/pg/data" -l "$svc_dir/pg/log" -w \
  -o "-k $svc_dir/pg -p $pg_port -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" \
  start >/dev/null
export RUNCELL_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/postgres"
export RUNCELL_TEST_PG_BIN="$pg_bin"

svc_stop() {
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$svc_dir/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$svc_dir"
}
# Keep whatever EXIT trap the caller already has.
svc_prev_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
trap "svc_stop; ${svc_prev_trap:-:}" EXIT

if ! /usr/bin/python3 -m venv "$svc_dir/venv" >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
  /usr/bin/python3 -m venv "$svc_dir/venv"
fi
"$svc_dir/venv/bin/pip" install -q --disable-pip-version-check judge0
export RUNCELL_TEST_PYTHON="$svc_dir/venv/bin/python"
echo "service deps: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port, judge0 SDK $("$RUNCELL_TEST_PYTHON" -c 'import importlib.metadata as m; print(m.version("judge0"))')"
