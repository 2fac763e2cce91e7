//! Restarts lose nothing: PostgreSQL stopped and started under a running fleet, an API node
//! SIGKILLed and replaced while `wait=true` clients wait, and `runcell serve` on its embedded
//! SQLite file SIGKILLed mid-run and started again. Every submission ends exactly once with
//! the right status and nothing has to be restarted by hand; a worker started during the
//! outage waits for the database.
//!
//! The PostgreSQL restart test runs its own throwaway cluster (own temp dir and port, as the
//! `postgres` user when root) so it never disturbs the cluster other tests share; it needs
//! PostgreSQL's binaries (`RUNCELL_TEST_PG_BIN`, else `/usr/lib/postgresql/*/bin`, installed
//! by .ci/service-deps.sh) and FAILS without them. The API-node test uses the shared cluster
//! (RUNCELL_TEST_POSTGRES) with a database of its own. Every wait is on a condition with a
//! generous deadline; nothing asserts on speed.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BIN, Server};
use serde_json::{Value, json};

/// Poll `f` until it returns `Some`, failing with `what` after `secs` seconds.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP request with a read timeout; `Err` when no complete HTTP answer came (connection
/// refused, reset, closed, or the timeout).
fn try_json(
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    s.write_all(body).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP answer ({} bytes)", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {head:?}"))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Err("chunked answer".into());
    }
    Ok((
        code,
        serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null),
    ))
}

/// A throwaway PostgreSQL cluster in its own temp dir on its own loopback port, which the
/// test can stop and start.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_bin() -> PathBuf {
    if let Ok(b) = std::env::var("RUNCELL_TEST_PG_BIN") {
        return PathBuf::from(b);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (no /usr/lib/postgresql, RUNCELL_TEST_PG_BIN unset): \
             source .ci/service-deps.sh",
        )
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no PostgreSQL bin directory with pg_ctl")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Cluster {
    fn start() -> Cluster {
        use std::os::unix::fs::PermissionsExt;
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("serve-restarts-pg")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        if is_root() {
            let st = Command::new("chown")
                .arg("postgres:")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(st.success(), "chown postgres: {}", dir.path().display());
        }
        // A free port below the ephemeral range (32768 and up): while the cluster is down,
        // the outgoing connections of everything on the machine cannot take it.
        let port = (0..1000)
            .map(|_| 20000 + (uuid::Uuid::new_v4().as_u128() % 12000) as u16)
            .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
            .expect("a free port in 20000..32000");
        let c = Cluster { bin, dir, port };
        c.pg(
            "initdb",
            &[
                "-D",
                &c.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
        );
        c.up();
        c
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Run a PostgreSQL program (as `postgres` when we are root); panics when it fails.
    fn pg(&self, prog: &str, args: &[&str]) {
        let exe = self.bin.join(prog);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{prog} {args:?}: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn up(&self) {
        let opts = format!(
            "-k {} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.dir.path().display(),
            self.port
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "300",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// Stop like a crash: every server process quits at once, no checkpoint (the next start
    /// runs crash recovery).
    fn crash(&self) {
        self.pg(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `runcell worker` process; SIGTERM on drop.
struct Worker {
    child: Child,
}

impl Worker {
    fn start(url: &str, cfg: &Path, work: &Path, threads: usize) -> Worker {
        let mut w = Worker::spawn(url, cfg, work, threads);
        w.ready();
        w
    }

    /// Start without waiting for it to be ready.
    fn spawn(url: &str, cfg: &Path, work: &Path, threads: usize) -> Worker {
        Worker::spawn_logging(url, cfg, work, threads, Stdio::inherit())
    }

    fn spawn_logging(url: &str, cfg: &Path, work: &Path, threads: usize, log: Stdio) -> Worker {
        let child = Command::new(BIN)
            .args([
                "worker",
                "--workers",
                &threads.to_string(),
                "--database",
                url,
            ])
            .arg("--config")
            .arg(cfg)
            .arg("--work-dir")
            .arg(work)
            .env("RUNCELL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start runcell worker");
        Worker { child }
    }

    /// Wait for its banner (it has connected to the database and started its threads).
    fn ready(&mut self) {
        let mut line = String::new();
        BufReader::new(self.child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("worker banner");
        assert_eq!(line.trim(), "worker running");
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill on our own, not yet reaped, child.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

/// A loopback HTTP server counting the callback PUTs per submission token.
struct Callbacks {
    addr: String,
    seen: Arc<Mutex<HashMap<String, usize>>>,
}

impl Callbacks {
    fn start() -> Callbacks {
        Callbacks::start_on("127.0.0.1:0")
    }

    fn start_on(addr: &str) -> Callbacks {
        let l = wait_for(60, "the callback port", || TcpListener::bind(addr).ok());
        let addr = l.local_addr().expect("addr").to_string();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve_callback(conn, &s));
            }
        });
        Callbacks { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}/done", self.addr)
    }

    fn counts(&self) -> HashMap<String, usize> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_callback(mut conn: TcpStream, seen: &Mutex<HashMap<String, usize>>) {
    conn.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut r = BufReader::new(conn.try_clone().expect("clone"));
    let mut len = 0usize;
    let mut method = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if method.is_empty() {
            method = line.split_whitespace().next().unwrap_or("").to_string();
        }
        let l = line.trim().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    if method == "PUT"
        && let Ok(v) = serde_json::from_slice::<Value>(&body)
        && let Some(t) = v["token"].as_str()
    {
        *seen.lock().unwrap().entry(t.to_string()).or_default() += 1;
    }
    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// The i-th job of a mix and what it must end as: (body, status id, stdout).
fn job(i: usize, callback: Option<&str>) -> (Value, i64, Option<String>) {
    let (src, lang, extra, want, out) = match i % 5 {
        0 => (
            format!("print({i})"),
            71,
            json!({}),
            3,
            Some(format!("{i}\n")),
        ),
        1 => (
            format!("import time\ntime.sleep(1.5)\nprint('slow {i}')"),
            71,
            json!({}),
            3,
            Some(format!("slow {i}\n")),
        ),
        2 => (
            "print('no')".to_string(),
            71,
            json!({"expected_output": "yes"}),
            4,
            Some("no\n".to_string()),
        ),
        3 => ("sleep 1; exit 3".to_string(), 46, json!({}), 11, None),
        _ => ("int main( {".to_string(), 50, json!({}), 6, None),
    };
    let mut body = json!({"source_code": src, "language_id": lang});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    if let Some(cb) = callback {
        body["callback_url"] = json!(cb);
    }
    (body, want, out)
}

/// Create `items` through the batch endpoint (20 at a time); returns the tokens in order.
fn create_all(addr: &str, items: &[Value]) -> Vec<String> {
    let mut tokens = Vec::new();
    for chunk in items.chunks(20) {
        let body = json!({ "submissions": chunk }).to_string();
        let (code, v) = common::json(addr, "POST", "/submissions/batch", &[], body.as_bytes());
        assert_eq!(code, 201, "{v}");
        for t in v.as_array().unwrap() {
            tokens.push(t["token"].as_str().expect("token").to_string());
        }
    }
    tokens
}

/// Wait until every token has a final status through the API at `addr` (answers other than
/// 200 — the database coming back — are waited out too); returns the submissions.
fn wait_all_final(addr: &str, tokens: &[String], secs: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for chunk in tokens.chunks(20) {
        let path = format!(
            "/submissions/batch?tokens={}&base64_encoded=false&\
             fields=token,status_id,stdout,message,finished_at",
            chunk.join(",")
        );
        let subs = wait_for(secs, "every submission to finish", || {
            let (code, v) = try_json(addr, "GET", &path, b"", Duration::from_secs(120)).ok()?;
            if code != 200 {
                return None;
            }
            let subs = v["submissions"].as_array()?.clone();
            let done = subs.len() == chunk.len()
                && subs
                    .iter()
                    .all(|s| s["status_id"].as_i64().unwrap_or(0) > 2);
            done.then_some(subs)
        });
        out.extend(subs);
    }
    out
}

fn check_results(subs: &[Value], tokens: &[String], want: &[(i64, Option<String>)]) {
    assert_eq!(subs.len(), tokens.len());
    for ((s, t), (status, out)) in subs.iter().zip(tokens).zip(want) {
        assert_eq!(s["token"], t.as_str());
        assert_eq!(s["status_id"], *status, "{s}");
        if let Some(o) = out {
            assert_eq!(s["stdout"], o.as_str(), "{s}");
        }
        assert!(s["finished_at"].is_string(), "{s}");
    }
}

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).expect(sql).get(0)
}

/// (a) PostgreSQL crashes (immediate stop) and comes back while an API node and three worker
/// processes run queued and running jobs.
#[test]
fn postgres_restart_under_a_running_fleet_loses_nothing() {
    let cluster = Cluster::start();
    let url = cluster.url();
    let cb = Callbacks::start();
    // A short lease so that the outage outlives some leases: jobs are then claimed again and
    // the fencing decides which run's result counts.
    // A long callback timeout: a try that timed out after the receiver counted it would be
    // sent again and counted twice.
    let toml = "workers = 0\nmax_queue_size = 1000\nlease_secs = 3\nmax_attempts = 20\n\
                callbacks_max_tries = 10\ncallbacks_timeout = 60\ndatabase_wait_secs = 900\n";
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), toml);
    let api = Server::start_with(tempfile::tempdir().unwrap(), &url, toml);
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&url, &cfg, &dir.path().join(format!("w{i}")), 1))
        .collect();

    let jobs: Vec<_> = (0..30).map(|i| job(i, Some(&cb.url()))).collect();
    let bodies: Vec<Value> = jobs.iter().map(|(b, _, _)| b.clone()).collect();
    let want: Vec<_> = jobs.iter().map(|(_, s, o)| (*s, o.clone())).collect();
    let tokens = create_all(&api.addr, &bodies);

    // Crash the database while jobs are both running and queued.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    wait_for(300, "jobs running and queued", || {
        let running = count(
            &mut c,
            "SELECT COUNT(*) FROM submissions WHERE status_id = 2",
        );
        let queued = count(
            &mut c,
            "SELECT COUNT(*) FROM submissions WHERE status_id = 1",
        );
        (running > 0 && queued > 0).then_some(())
    });
    drop(c);
    cluster.crash();

    // During the outage the API answers, with 503 and a clear error, instead of hanging.
    let limit = Duration::from_secs(120);
    let show = format!("/submissions/{}", tokens[0]);
    let create = json!({"source_code": "print(1)", "language_id": 71}).to_string();
    for (method, path, body) in [
        ("GET", show.as_str(), &b""[..]),
        ("POST", "/submissions", create.as_bytes()),
        ("POST", "/submissions?wait=true", create.as_bytes()),
        ("GET", "/workers", b""),
    ] {
        let (code, v) = try_json(&api.addr, method, path, body, limit)
            .unwrap_or_else(|e| panic!("{method} {path} during the outage: {e}"));
        assert_eq!(code, 503, "{method} {path}: {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains("database unavailable"), "{method} {path}: {v}");
    }
    // Let running jobs end while the database is away (their results must wait for it), and
    // leases lapse.
    std::thread::sleep(Duration::from_secs(4));
    for w in &mut workers {
        assert!(w.alive(), "a worker exited during the outage");
    }
    // A worker started while the database is down waits for it instead of exiting: the
    // database comes back once it says it is waiting.
    let mut late = Worker::spawn_logging(&url, &cfg, &dir.path().join("late"), 1, Stdio::piped());
    let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
    let log = late.child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            eprintln!("late worker: {line}");
            if line.contains("waiting for the database") {
                let _ = waiting_tx.send(());
            }
        }
    });
    waiting_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the late worker never said it waits for the database");
    assert!(late.alive(), "the late worker exited instead of waiting");
    cluster.up();
    late.ready();
    workers.push(late);

    // Everything ends, read through the same API node, without restarting anything.
    let subs = wait_all_final(&api.addr, &tokens, 900);
    check_results(&subs, &tokens, &want);

    // Exactly one result per submission reached its callback URL (a second write would have
    // been fenced, a lost acknowledgement would have meant none).
    wait_for(300, "a callback for every submission", || {
        let n = cb.counts();
        tokens.iter().all(|t| n.contains_key(t)).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let n = cb.counts();
    assert_eq!(n.len(), tokens.len(), "callbacks for unknown tokens: {n:?}");
    for t in &tokens {
        assert_eq!(n[t], 1, "callbacks for {t}");
    }

    // The fleet reconnected: workers registered again, new work flows end to end.
    for w in &mut workers {
        assert!(w.alive(), "a worker exited after the outage");
    }
    wait_for(120, "four live workers in /workers", || {
        let (code, w) = try_json(&api.addr, "GET", "/workers", b"", limit).ok()?;
        let alive = w[0]["workers"]
            .as_array()?
            .iter()
            .filter(|x| x["alive"] == true)
            .count();
        (code == 200 && alive == 4).then_some(())
    });
    let (code, v) = try_json(
        &api.addr,
        "POST",
        "/submissions?wait=true&base64_encoded=false",
        json!({"source_code": "print('after')", "language_id": 71})
            .to_string()
            .as_bytes(),
        Duration::from_secs(600),
    )
    .expect("create after the outage");
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["status"]["id"], 3, "{v}");
    assert_eq!(v["stdout"], "after\n", "{v}");

    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("reconnect");
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM submissions WHERE status_id IN (1, 2) OR lease_until IS NOT NULL"
        ),
        0
    );
    // Only the 30 jobs and the one after the outage: the refused creates left nothing.
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM submissions"), 31);
    drop(workers);
    drop(api);
}

/// (b) The API node is SIGKILLed while `wait=true` clients wait and is replaced by a new one
/// on the same database: the clients get an error, the jobs still complete, and the new node
/// serves their results.
#[test]
fn api_node_killed_and_replaced_loses_nothing() {
    let url = std::env::var("RUNCELL_TEST_POSTGRES")
        .expect("RUNCELL_TEST_POSTGRES is not set: source .ci/service-deps.sh");
    let db = format!("restart_api_{}", uuid::Uuid::new_v4().simple());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let db_url = format!("{base}/{db}");

    let toml = "workers = 0\nlease_secs = 5\nmax_attempts = 5\nwait_timeout_secs = 600\n";
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), toml);
    let mut api = Server::start_with(tempfile::tempdir().unwrap(), &db_url, toml);
    let _workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&db_url, &cfg, &dir.path().join(format!("w{i}")), 1))
        .collect();

    let n = 6;
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let addr = api.addr.clone();
            let body = json!({
                "source_code": format!("import time\ntime.sleep(2)\nprint('job {i}')"),
                "language_id": 71,
            })
            .to_string();
            std::thread::spawn(move || {
                try_json(
                    &addr,
                    "POST",
                    "/submissions?wait=true&base64_encoded=false",
                    body.as_bytes(),
                    Duration::from_secs(900),
                )
            })
        })
        .collect();

    let mut c = postgres::Client::connect(&db_url, postgres::NoTls).expect("connect");
    wait_for(300, "all jobs created and one running", || {
        let all = count(&mut c, "SELECT COUNT(*) FROM submissions");
        let running = count(
            &mut c,
            "SELECT COUNT(*) FROM submissions WHERE status_id = 2",
        );
        (all == n && running > 0).then_some(())
    });
    api.child.kill().expect("SIGKILL the API node");
    api.child.wait().expect("reap the API node");

    // The waiting clients get an error (the connection ends without an answer); a job that
    // ended just before the kill may have been answered.
    let mut errors = 0;
    for h in clients {
        match h.join().expect("client thread") {
            Err(_) => errors += 1,
            Ok((code, v)) => {
                assert_eq!(code, 201, "{v}");
                assert_eq!(v["status"]["id"], 3, "{v}");
            }
        }
    }
    assert!(errors > 0, "no waiting client saw the API node die");

    // A new node on the same database: every job completes and is readable there.
    let api2 = Server::start_with(tempfile::tempdir().unwrap(), &db_url, toml);
    let tokens: Vec<String> = c
        .query("SELECT token FROM submissions ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let subs = wait_all_final(&api2.addr, &tokens, 900);
    let mut outs: Vec<String> = subs
        .iter()
        .map(|s| {
            assert_eq!(s["status_id"], 3, "{s}");
            s["stdout"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    outs.sort();
    let want: Vec<String> = (0..n).map(|i| format!("job {i}\n")).collect();
    assert_eq!(outs, want);
    let (code, v) = api2.get("/submissions?per_page=20&fields=token");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["meta"]["total_count"], n, "{v}");

    drop(api2);
    drop(_workers);
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

/// (c) `runcell serve` on its embedded SQLite file is SIGKILLed with jobs queued and running,
/// then started again on the same file: it frees the jobs the dead process held (their
/// owner's pid is gone), every job is run (again) and ends exactly once.
#[test]
fn embedded_serve_killed_and_restarted_reruns_its_jobs() {
    let keep = tempfile::tempdir().unwrap();
    let db_path = keep.path().join("db.sqlite");
    let db = format!("sqlite:{}", db_path.display());
    // A lease far beyond the test's deadlines: the restarted server must free the killed
    // one's jobs because their owner is dead, not because their leases lapsed.
    let toml = "workers = 2\nlease_secs = 3600\nmax_attempts = 5\n";
    let mut first = Server::start_with(tempfile::tempdir().unwrap(), &db, toml);

    let marker = format!("restart-{}", uuid::Uuid::new_v4().simple());
    let jobs: Vec<_> = (0..10).map(|i| job(i, None)).collect();
    let bodies: Vec<Value> = jobs
        .iter()
        .map(|(b, _, _)| {
            let mut b = b.clone();
            // Bash scripts see it as $1, the others as an argument: it marks their processes.
            b["command_line_arguments"] = json!(marker);
            b
        })
        .collect();
    let want: Vec<_> = jobs.iter().map(|(_, s, o)| (*s, o.clone())).collect();
    let tokens = create_all(&first.addr, &bodies);

    let read = rusqlite::Connection::open(&db_path).expect("open the database file");
    let count = |sql: &str| -> i64 { read.query_row(sql, [], |r| r.get(0)).expect(sql) };
    wait_for(300, "jobs running and queued", || {
        let running = count("SELECT COUNT(*) FROM submissions WHERE status_id = 2");
        let queued = count("SELECT COUNT(*) FROM submissions WHERE status_id = 1");
        (running > 0 && queued > 0).then_some(())
    });
    first.child.kill().expect("SIGKILL runcell serve");
    first.child.wait().expect("reap runcell serve");
    let orphaned = count("SELECT COUNT(*) FROM submissions WHERE status_id = 2");

    // The killed server's sandboxes die with it.
    wait_for(120, "no sandbox process of the killed server", || {
        common::processes_matching(&marker).is_empty().then_some(())
    });

    let second = Server::start_with(tempfile::tempdir().unwrap(), &db, toml);
    let subs = wait_all_final(&second.addr, &tokens, 900);
    check_results(&subs, &tokens, &want);
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM submissions WHERE status_id IN (1, 2) OR lease_until IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM submissions"),
        tokens.len() as i64
    );
    // The jobs the killed server held were claimed again (a second attempt), not lost.
    assert!(orphaned > 0);
    assert!(
        count("SELECT COUNT(*) FROM submissions WHERE attempts >= 2") >= orphaned,
        "the orphaned jobs were not run again"
    );
    drop(second);
    drop(first);
}

/// A callback still pending when `runcell serve` is SIGKILLed (its receiver was down: every
/// try so far failed) is stored with the result, and the server started again on the same
/// file delivers it once the receiver is up; the tries made before count toward
/// `callbacks_max_tries`.
#[test]
fn pending_callback_survives_a_killed_server() {
    let keep = tempfile::tempdir().unwrap();
    let db_path = keep.path().join("db.sqlite");
    let db = format!("sqlite:{}", db_path.display());
    // A port nothing listens on yet: the receiver comes up only after the kill.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let receiver = format!("127.0.0.1:{port}");
    let toml = "workers = 1\ncallbacks_max_tries = 1000\ncallbacks_timeout = 1\n";
    let mut first = Server::start_with(tempfile::tempdir().unwrap(), &db, toml);
    let body = json!({"source_code": "print('called back')", "language_id": 71,
                      "callback_url": format!("http://{receiver}/done")});
    let (code, v) = first.post("/submissions", &body);
    assert_eq!(code, 201, "{v}");
    let token = v["token"].as_str().expect("token").to_string();
    let done = first.wait_done(&token, "base64_encoded=false");
    assert_eq!(done["status"]["id"], 3, "{done}");

    let read = rusqlite::Connection::open(&db_path).expect("open the database file");
    let state = |col: &str| -> Option<i64> {
        read.query_row(
            &format!("SELECT {col} FROM submissions WHERE token = ?1"),
            [&token],
            |r| r.get(0),
        )
        .expect(col)
    };
    wait_for(300, "a failed callback try", || {
        (state("callback_tries").unwrap_or(0) >= 1).then_some(())
    });
    assert_eq!(state("callback_state"), Some(1), "pending");
    first.child.kill().expect("SIGKILL runcell serve");
    first.child.wait().expect("reap runcell serve");
    let tried = state("callback_tries").unwrap_or(0);
    assert_eq!(
        state("callback_state"),
        Some(1),
        "still pending after the kill"
    );

    let callbacks = Callbacks::start_on(&receiver);
    let second = Server::start_with(tempfile::tempdir().unwrap(), &db, toml);
    wait_for(300, "the callback after the restart", || {
        callbacks.counts().get(&token).copied()
    });
    wait_for(60, "the delivery recorded", || {
        (state("callback_state") == Some(2)).then_some(())
    });
    assert_eq!(callbacks.counts()[&token], 1, "delivered once");
    assert!(state("callback_tries").unwrap_or(0) > tried);
    drop(second);
}

/// The job directories of a SIGKILLed server (a job was running) are left on disk; a server
/// started on the same work directory removes them before it runs anything, and leaves a
/// live server's alone.
#[test]
fn killed_servers_job_directories_are_removed_at_start() {
    let keep = tempfile::tempdir().unwrap();
    let work = keep.path().join("work");
    let jobs = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    // The job runs until it is killed: no limit ends it while the test looks.
    let toml = "workers = 1\nwall_time_limit = 900\nmax_wall_time_limit = 900\n";
    let mut first = Server::start_in(
        tempfile::tempdir().unwrap(),
        &format!("sqlite:{}", keep.path().join("one.sqlite").display()),
        toml,
        &work,
    );
    let body = json!({"source_code": "open('left', 'w').write('x')\nimport time\ntime.sleep(600)",
                      "language_id": 71});
    let (code, v) = first.post("/submissions", &body);
    assert_eq!(code, 201, "{v}");
    let left = wait_for(300, "the running job's directory", || {
        let j = jobs(&work);
        j.iter().any(|d| d.join("left").exists()).then_some(j)
    });
    first.child.kill().expect("SIGKILL runcell serve");
    first.child.wait().expect("reap runcell serve");
    assert_eq!(
        jobs(&work),
        left,
        "the killed server's job directory is left behind"
    );

    // Another server on the same work directory (its own database: nothing to rerun).
    let mut second = Server::start_in(
        tempfile::tempdir().unwrap(),
        &format!("sqlite:{}", keep.path().join("two.sqlite").display()),
        toml,
        &work,
    );
    assert!(jobs(&work).is_empty(), "left: {:?}", jobs(&work));
    // Its own running job's directory is not touched by a third server starting.
    let (code, v) = second.post("/submissions", &body);
    assert_eq!(code, 201, "{v}");
    let running = wait_for(300, "the second server's job directory", || {
        let j = jobs(&work);
        (!j.is_empty()).then_some(j)
    });
    let third = Server::start_in(
        tempfile::tempdir().unwrap(),
        &format!("sqlite:{}", keep.path().join("three.sqlite").display()),
        toml,
        &work,
    );
    assert_eq!(jobs(&work), running, "a live server's job directory stays");
    drop(third);
    // Not a graceful stop: that would wait for the job.
    second.child.kill().expect("SIGKILL runcell serve");
    second.child.wait().expect("reap runcell serve");
}
