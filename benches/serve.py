#!/usr/bin/env python3
"""Benchmark of `runcell serve` through its Judge0 API (standard library only).

Python and C++ hello world through `POST /submissions?wait=true` and through create-then-poll,
one client (sequential) and 32 concurrent clients: median and p99 latency and submissions per
second; the create latency (`POST /submissions` answered with a token) while the workers are
saturated; the embedded SQLite store, and PostgreSQL when a URL is given. For reference, the
median of the same Python hello world run directly through `runcell run` (which includes
starting the runcell process).

    cargo build --release -p runcell-cli
    python3 benches/serve.py [--postgres postgres://...] [--quick]
    python3 benches/serve.py --breakdown 200      # where one submission's time goes

`--breakdown N` runs N sequential Python hello-world submissions with `wait=true` against one
embedded-store server with one worker and info logs, and splits each one's latency using the
server's own records: the program's wall time in the sandbox (`wall_time`), the worker's whole
run (`finished` log: job directory, sandbox spawn to reap, cleanup), the API request (`request`
log of the POST), and what the client saw.

Numbers depend on the machine: the script prints them, it asserts nothing.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "runcell")

PROGRAMS = {
    "python": {"language_id": 71, "source_code": "print('hello, world')"},
    "cpp": {
        "language_id": 52,
        "source_code": '#include <iostream>\nint main(){std::cout << "hello, world" << std::endl;}',
    },
}


class Client:
    def __init__(self, addr):
        host, port = addr.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None


def one(addr, mode, program, client, creates):
    t0 = time.perf_counter()
    if mode == "wait":
        code, v = client.call("POST", "/submissions?wait=true", program)
        assert code == 201 and v["status"]["id"] == 3, (code, v)
    else:
        c0 = time.perf_counter()
        code, v = client.call("POST", "/submissions", program)
        creates.append(time.perf_counter() - c0)
        assert code == 201, (code, v)
        token = v["token"]
        while True:
            code, v = client.call("GET", f"/submissions/{token}?fields=status_id")
            if v["status_id"] > 2:
                assert v["status_id"] == 3, v
                break
            time.sleep(0.005)
    return time.perf_counter() - t0


def scenario(addr, mode, program, clients, total):
    lat, creates, errors = [], [], []
    per = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    lock = threading.Lock()

    def run(n):
        c = Client(addr)
        mine, mc = [], []
        try:
            for _ in range(n):
                mine.append(one(addr, mode, program, c, mc))
        except Exception as e:  # reported, never hidden
            errors.append(repr(e))
        with lock:
            lat.extend(mine)
            creates.extend(mc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    return lat, creates, elapsed


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def start_server(database, workdir, extra="", log=None):
    cfg = os.path.join(workdir, "bench.toml")
    with open(cfg, "w") as f:
        f.write("max_queue_size = 100000\nlog_format = \"json\"\n" + extra)
    p = subprocess.Popen(
        [BIN, "serve", "--listen", "127.0.0.1:0", "--database", database, "--config", cfg,
         "--work-dir", os.path.join(workdir, "work")],
        stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL,
        env={**os.environ, "RUNCELL_LOG": "info" if log else "warn"},
    )
    line = p.stdout.readline().decode().strip()
    assert line.startswith("listening on http://"), line
    return p, line[len("listening on http://"):]


def direct_baseline(n):
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([BIN, "run", "--profile", "python", "--", "python3", "-c", "print('hello, world')"],
                       check=True, stdout=subprocess.DEVNULL)
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def breakdown(n):
    """Split the latency of N sequential wait=true Python hello-world submissions."""
    workdir = tempfile.mkdtemp(prefix="runcell-bench-")
    os.chmod(workdir, 0o755)
    logpath = os.path.join(workdir, "serve.log")
    with open(logpath, "w") as log:
        server, addr = start_server(f"sqlite:{os.path.join(workdir, 'db.sqlite')}", workdir,
                                    "workers = 1\n", log)
    client = Client(addr)
    seen, walls, cpus = [], [], []
    try:
        for i in range(n + 5):
            t0 = time.perf_counter()
            code, v = client.call("POST", "/submissions?wait=true&fields=token,status_id,wall_time,time",
                                  PROGRAMS["python"])
            dt = time.perf_counter() - t0
            assert code == 201 and v["status_id"] == 3, (code, v)
            if i >= 5:  # the first few warm the sandbox cache and the interpreter's files
                seen.append(dt)
                walls.append(float(v["wall_time"]))
                cpus.append(float(v["time"]))
    finally:
        server.terminate()
        server.wait()
    runs, posts = [], []
    with open(logpath) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            fields = e.get("fields", {})
            if fields.get("message") == "finished":
                runs.append(float(fields["seconds"]))
            elif (fields.get("message") == "request" and fields.get("route") == "/submissions"
                  and fields.get("method") == "POST"):
                posts.append(float(fields["ms"]) / 1000)
    shutil.rmtree(workdir, ignore_errors=True)
    runs, posts = runs[5:], posts[5:]
    if len(runs) != n or len(posts) != n:
        raise SystemExit(f"log has {len(runs)} runs and {len(posts)} requests, expected {n}")
    med = lambda xs: statistics.median(xs) * 1000
    direct = direct_baseline(max(10, n // 5)) * 1000
    print(f"{n} sequential Python hello-world submissions, wait=true, SQLite, 1 worker "
          f"(medians, ms; load average {os.getloadavg()[0]:.1f}):")
    rows = [
        ("sandboxed run, setup to teardown (`wall_time`)", med(walls)),
        ("  CPU time of the sandbox's processes (`time`)", med(cpus)),
        ("worker run: job dir + sandboxed run + cleanup", med(runs)),
        ("  of which outside the sandboxed run", med([r - w for r, w in zip(runs, walls)])),
        ("API request (POST ?wait=true, server side)", med(posts)),
        ("  of which queue + store + wake-ups (request - worker run)",
         med([p - r for p, r in zip(posts, runs)])),
        ("client-observed latency", med(seen)),
        ("  of which HTTP client + connection (client - request)",
         med([c - p for c, p in zip(seen, posts)])),
        ("for reference: `runcell run --profile python` (CLI process included)", direct),
    ]
    for name, ms in rows:
        print(f"  {name:68} {ms:7.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("RUNCELL_TEST_POSTGRES"))
    ap.add_argument("--quick", action="store_true", help="fewer submissions")
    ap.add_argument("--only", choices=sorted(PROGRAMS), help="one program instead of all")
    ap.add_argument("--breakdown", type=int, metavar="N",
                    help="only split one submission's latency, over N sequential submissions")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release -p runcell-cli")
    if a.breakdown:
        return breakdown(a.breakdown)
    k = 0.25 if a.quick else 1.0
    counts = {  # (sequential, concurrent) submissions per program
        "python": (int(100 * k), int(640 * k)),
        "cpp": (int(20 * k), int(96 * k)),
    }
    print(f"machine: {os.cpu_count()} cores; runcell run python hello (CLI, median): "
          f"{direct_baseline(int(40 * k)) * 1000:.1f} ms")
    stores = [("sqlite", None)]
    if a.postgres:
        stores.append(("postgres", a.postgres))
    print(f"{'store':9} {'program':7} {'mode':5} {'clients':>7} {'n':>5} {'median ms':>10} "
          f"{'p99 ms':>8} {'subs/s':>8} {'create med ms':>14}")
    for store, url in stores:
        workdir = tempfile.mkdtemp(prefix="runcell-bench-")
        os.chmod(workdir, 0o755)
        database = url or f"sqlite:{os.path.join(workdir, 'db.sqlite')}"
        if url:
            # A fresh table set: drop what an earlier run left.
            subprocess.run(["psql", url, "-qc", "DROP TABLE IF EXISTS submissions, workers"],
                           check=False, stderr=subprocess.DEVNULL)
        server, addr = start_server(database, workdir)
        try:
            for prog in [a.only] if a.only else ("python", "cpp"):
                program = PROGRAMS[prog]
                scenario(addr, "wait", program, 2, 4)  # warm-up
                for mode in ("wait", "poll"):
                    for clients, n in ((1, counts[prog][0]), (32, counts[prog][1])):
                        lat, creates, el = scenario(addr, mode, program, clients, n)
                        cm = f"{statistics.median(creates) * 1000:.2f}" if creates else "-"
                        print(f"{store:9} {prog:7} {mode:5} {clients:7d} {n:5d} "
                              f"{statistics.median(lat) * 1000:10.1f} {pct(lat, 99) * 1000:8.1f} "
                              f"{n / el:8.1f} {cm:>14}", flush=True)
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
