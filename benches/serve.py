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

`--throughput N` only measures the throughput goal: N Python hello worlds from 32 concurrent
`wait=true` clients (`--poll`: create-then-poll clients), on SQLite (and PostgreSQL when a URL is given), printing submissions per
second and the CPU each submission cost (see below). `--set 'key = value'` adds a line to the
server's TOML config (repeatable), e.g. to compare settings side by side in one run.

CPU per submission (every scenario row prints it): the machine is shared, so wall-clock
throughput is noisy; the CPU a submission costs is not. Over each batch the script takes
(a) the server's own CPU plus that of every process it started (reaped ones through the
kernel's children counters, live ones directly: sandboxes, warm cells), and PostgreSQL's
(postmaster and backends) when it runs on this machine, (b) the CPU of
kernel threads (namespace and cgroup teardown happen in kworkers; other users' kernel work
lands here too), (c) the whole machine's busy time from /proc/stat (everything, other users
included: an upper bound), and (d) the benchmark client's own CPU. "all in" = (a) + (b):
100 submissions/s on 2 cores means at most 20 ms of it per submission.

`--breakdown N` runs N sequential Python hello-world submissions with `wait=true` against one
embedded-store server with one worker and info logs, and splits each one's latency using the
server's own records: the program's wall time in the sandbox (`wall_time`), the worker's whole
run (`finished` log: job directory, sandbox spawn to reap, cleanup), the API request (`request`
log of the POST), and what the client saw.

`--high-share` (root, cgroup v1 cpu controller) runs everything the benchmark starts in a cpu
cgroup of the highest weight, to measure on a shared machine as on one where only the
benchmark runs: other users' processes then get only the CPU the benchmark leaves idle (the
kernel threads, which do part of each sandbox's teardown, stay with them in the root group).
A PostgreSQL server on this machine joins the group for the run (and leaves it after).

Numbers depend on the machine: the script prints them, it asserts nothing.
"""

import argparse
import json
import os
import resource
import shutil
import socket
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
    """A keep-alive HTTP/1.1 client on a plain socket. The benchmark's clients share the 2
    cores with the service, so their own CPU is kept small: `http.client` parses every
    response's headers with the `email` package, which cost the 32 clients ~0.5 ms of CPU per
    submission; this one reads the status line and `Content-Length` only (~0.3 ms)."""

    def __init__(self, addr):
        host, port = addr.split(":")
        self.addr = (host, int(port))
        self.sock = None
        self.buf = b""

    def call(self, method, path, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.addr[0]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=600)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
        self.sock.sendall(head.encode() + data)
        while b"\r\n\r\n" not in self.buf:
            self._read()
        raw_head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip()
                   for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        if "content-length" not in headers:
            raise RuntimeError(f"response without Content-Length: {lines}")
        n = int(headers["content-length"])
        while len(self.buf) < n:
            self._read()
        raw, self.buf = self.buf[:n], self.buf[n:]
        if headers.get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        return status, json.loads(raw) if raw else None

    def _read(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed by the server")
        self.buf += chunk


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


def scenario(addr, mode, program, clients, total, cpu=None):
    """Latencies, create latencies, elapsed seconds and CPU ms per submission (or None)."""
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

    before = cpu.sample() if cpu else None
    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(n,)) for n in per]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    used = Cpu.per_sub(before, cpu.sample(), total) if cpu else None
    if errors:
        raise SystemExit(f"errors: {errors[:3]}")
    return lat, creates, elapsed, used


CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, own CPU s, reaped children's CPU s) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
    own = (int(fields[11]) + int(fields[12])) / CLK
    kids = (int(fields[13]) + int(fields[14])) / CLK
    return int(fields[1]), own, kids


def postmaster_pid(url):
    """The PostgreSQL server's pid (its data directory's postmaster.pid), when readable: its
    CPU (and its backends') is part of a submission's cost when it runs on this machine."""
    r = subprocess.run(["psql", url, "-Atqc", "SHOW data_directory"], capture_output=True,
                       text=True, check=False)
    try:
        with open(os.path.join(r.stdout.strip(), "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


class Cpu:
    """CPU counters of the server's process tree, the database server's (PostgreSQL on this
    machine), kernel threads and the whole machine."""

    def __init__(self, pid, db_pid=None):
        self.pid = pid
        self.db_pid = db_pid

    def sample(self):
        procs = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat(int(name))
                if st:
                    procs[int(name)] = st
        children = {}
        for pid, (ppid, _, _) in procs.items():
            children.setdefault(ppid, []).append(pid)
        def tree_of(root):
            total, todo = 0.0, [root]
            while todo:  # the process and its live descendants, each with its reaped children
                pid = todo.pop()
                if pid in procs:
                    total += procs[pid][1] + procs[pid][2]
                    todo.extend(children.get(pid, []))
            return total

        tree = tree_of(self.pid)
        db = tree_of(self.db_pid) if self.db_pid else 0.0
        kthreads = sum(procs[p][1] for p in children.get(2, []) if p in procs)
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        busy = (sum(v[:8]) - v[3] - v[4]) / CLK  # all but idle and iowait; guest is in user
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {"tree": tree, "db": db, "kthreads": kthreads, "machine": busy,
                "client": ru.ru_utime + ru.ru_stime}

    @staticmethod
    def per_sub(before, after, n):
        """ms per submission of each counter, plus "all in" (server tree + database + kernel
        threads)."""
        d = {k: (after[k] - before[k]) * 1000 / n for k in before}
        d["all_in"] = d["tree"] + d["db"] + d["kthreads"]
        return d


def thread_cpu(pid):
    """CPU seconds of the server's threads by name (digits folded), and of its reaped
    children (the sandboxes)."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        name = raw[raw.index("(") + 1:raw.rindex(")")].rstrip("0123456789-")
        fields = raw[raw.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLK
    st = _stat(pid)
    out["<sandboxes>"] = st[2] if st else 0
    return out


def cpu_line(d):
    db = f" + database {d['db']:.1f}" if d["db"] else ""
    return (f"all in {d['all_in']:.1f} (server tree {d['tree']:.1f}{db} + kernel threads "
            f"{d['kthreads']:.1f}); machine {d['machine']:.1f}; client {d['client']:.1f}")


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


def breakdown(n, extra=""):
    """Split the latency of N sequential wait=true Python hello-world submissions."""
    workdir = tempfile.mkdtemp(prefix="runcell-bench-")
    os.chmod(workdir, 0o755)
    logpath = os.path.join(workdir, "serve.log")
    with open(logpath, "w") as log:
        server, addr = start_server(f"sqlite:{os.path.join(workdir, 'db.sqlite')}", workdir,
                                    "workers = 1\n" + extra, log)
    client = Client(addr)
    seen, walls, cpus = [], [], []
    cpu, before, used = Cpu(server.pid), None, None
    try:
        for i in range(n + 5):
            if i == 5:
                before = cpu.sample()
            t0 = time.perf_counter()
            code, v = client.call("POST", "/submissions?wait=true&fields=token,status_id,wall_time,time",
                                  PROGRAMS["python"])
            dt = time.perf_counter() - t0
            assert code == 201 and v["status_id"] == 3, (code, v)
            if i >= 5:  # the first few warm the sandbox cache and the interpreter's files
                seen.append(dt)
                walls.append(float(v["wall_time"]))
                cpus.append(float(v["time"]))
        used = Cpu.per_sub(before, cpu.sample(), n)
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
    print(f"  CPU per submission, ms: {cpu_line(used)}")


def fresh_database(url):
    """A fresh table set on PostgreSQL: drop what an earlier run left."""
    subprocess.run(["psql", url, "-qc", "DROP TABLE IF EXISTS submissions, workers"],
                   check=False, stderr=subprocess.DEVNULL)


def throughput(n, postgres, extra, mode="wait"):
    """The throughput goal: N Python hello worlds from 32 concurrent wait=true clients (or
    create-then-poll clients)."""
    print(f"throughput: {n} Python hello worlds, 32 concurrent {mode} clients, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
          + (f", config: {extra.strip()!r}" if extra else ""))
    stores = [("sqlite", None)] + ([("postgres", postgres)] if postgres else [])
    for store, url in stores:
        workdir = tempfile.mkdtemp(prefix="runcell-bench-")
        os.chmod(workdir, 0o755)
        if url:
            fresh_database(url)
        database = url or f"sqlite:{os.path.join(workdir, 'db.sqlite')}"
        server, addr = start_server(database, workdir, extra)
        try:
            scenario(addr, "wait", PROGRAMS["python"], 32, 64)  # warm-up
            threads0 = thread_cpu(server.pid)
            db_pid = postmaster_pid(url) if url else None
            join_high_share(db_pid)
            cpu = Cpu(server.pid, db_pid)
            lat, _, el, used = scenario(addr, mode, PROGRAMS["python"], 32, n, cpu)
            threads1 = thread_cpu(server.pid)
            print(f"  {store:9} {n / el:6.1f} subs/s  median {statistics.median(lat) * 1000:.1f} ms"
                  f"  p99 {pct(lat, 99) * 1000:.1f} ms  CPU ms/sub: {cpu_line(used)}"
                  f"  (load {os.getloadavg()[0]:.1f})", flush=True)
            parts = {k: (threads1[k] - threads0.get(k, 0)) * 1000 / n for k in threads1}
            print("    server's CPU ms/sub by thread (sandboxes: reaped children): " + ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 0.05))
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(workdir, ignore_errors=True)


CPU_CGROUP = "/sys/fs/cgroup/cpu"


HIGH_SHARE = None


def join_high_share(pid):
    """With --high-share, a PostgreSQL server on this machine (its postmaster and backends)
    joins the benchmark's cpu group too: its work per submission is part of the service's."""
    if not HIGH_SHARE or not pid:
        return
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(os.path.join(HIGH_SHARE, "cgroup.procs"), "w") as f:
                f.write(str(p))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass


def high_share():
    """Move this process (and so the server, its sandboxes and the clients, which inherit it)
    into a cgroup v1 cpu group of its own with the largest weight (`cpu.shares` 262144, 256
    times a nice-0 process's): on a machine other users load, the benchmark then takes the
    cores as if it ran alone, except the kernel's own threads (namespace teardown) and
    interrupts, which stay in the root group. The group is left (and removed) at exit."""
    import atexit
    if not os.path.exists(os.path.join(CPU_CGROUP, "cpu.shares")):
        raise SystemExit("--high-share needs the cgroup v1 cpu controller at " + CPU_CGROUP)
    global HIGH_SHARE
    group = os.path.join(CPU_CGROUP, f"serve-bench-{os.getpid()}")
    os.mkdir(group)
    HIGH_SHARE = group
    with open(os.path.join(group, "cpu.shares"), "w") as f:
        f.write("262144")
    with open(os.path.join(group, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))

    def leave():
        # Everything still in the group (this process, a PostgreSQL server that joined)
        # goes back to the root group.
        with open(os.path.join(group, "cgroup.procs")) as f:
            left = f.read().split()
        for p in left:
            try:
                with open(os.path.join(CPU_CGROUP, "cgroup.procs"), "w") as f:
                    f.write(p)
            except OSError:
                pass
        # The server's sandbox groups are gone with it; retry while the kernel lets go.
        for _ in range(50):
            try:
                os.rmdir(group)
                return
            except OSError:
                time.sleep(0.1)
    atexit.register(leave)


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=os.environ.get("RUNCELL_TEST_POSTGRES"))
    ap.add_argument("--quick", action="store_true", help="fewer submissions")
    ap.add_argument("--only", choices=sorted(PROGRAMS), help="one program instead of all")
    ap.add_argument("--breakdown", type=int, metavar="N",
                    help="only split one submission's latency, over N sequential submissions")
    ap.add_argument("--throughput", type=int, metavar="N",
                    help="only the throughput goal: N Python hello worlds, 32 wait=true clients")
    ap.add_argument("--bin", default=BIN, help=f"the runcell binary (default {BIN})")
    ap.add_argument("--poll", action="store_true",
                    help="with --throughput: create-then-poll clients instead of wait=true")
    ap.add_argument("--set", action="append", default=[], metavar="'KEY = VALUE'",
                    help="a line for the server's TOML config (repeatable)")
    ap.add_argument("--high-share", action="store_true",
                    help="run in a cgroup v1 cpu group with the highest weight (root; see "
                         "the module's doc): other users' processes take (almost) no CPU "
                         "from the benchmark")
    a = ap.parse_args()
    BIN = a.bin
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release -p runcell-cli")
    extra = "".join(line + "\n" for line in a.set)
    if a.high_share:
        high_share()
    if a.breakdown:
        return breakdown(a.breakdown, extra)
    if a.throughput:
        return throughput(a.throughput, a.postgres, extra, "poll" if a.poll else "wait")
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
          f"{'p99 ms':>8} {'subs/s':>8} {'create med ms':>14} {'cpu ms':>8} {'mach ms':>8}")
    print("  (cpu ms: server tree + kernel threads per submission; mach ms: whole machine)")
    for store, url in stores:
        workdir = tempfile.mkdtemp(prefix="runcell-bench-")
        os.chmod(workdir, 0o755)
        database = url or f"sqlite:{os.path.join(workdir, 'db.sqlite')}"
        if url:
            fresh_database(url)
        server, addr = start_server(database, workdir, extra)
        db_pid = postmaster_pid(url) if url else None
        join_high_share(db_pid)
        try:
            for prog in [a.only] if a.only else ("python", "cpp"):
                program = PROGRAMS[prog]
                scenario(addr, "wait", program, 2, 4)  # warm-up
                for mode in ("wait", "poll"):
                    for clients, n in ((1, counts[prog][0]), (32, counts[prog][1])):
                        lat, creates, el, used = scenario(addr, mode, program, clients, n,
                                                          Cpu(server.pid, db_pid))
                        cm = f"{statistics.median(creates) * 1000:.2f}" if creates else "-"
                        print(f"{store:9} {prog:7} {mode:5} {clients:7d} {n:5d} "
                              f"{statistics.median(lat) * 1000:10.1f} {pct(lat, 99) * 1000:8.1f} "
                              f"{n / el:8.1f} {cm:>14} {used['all_in']:8.1f} "
                              f"{used['machine']:8.1f}", flush=True)
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
