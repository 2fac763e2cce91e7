//! Fleet: PostgreSQL, one API node (`serve --workers 0`), three `runcell worker` processes,
//! 300 mixed submissions, one worker SIGKILLed while it runs jobs. Every submission must end
//! exactly once with the right status, none stuck in Processing, no sandbox process left.
//! Needs RUNCELL_TEST_POSTGRES (from .ci/service-deps.sh): fails without it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Server};
use serde_json::{Value, json};

struct Worker {
    child: Child,
}

impl Worker {
    fn start(url: &str, cfg: &std::path::Path, work: &std::path::Path) -> Worker {
        let mut child = Command::new(BIN)
            .args(["worker", "--workers", "2", "--database", url])
            .arg("--config")
            .arg(cfg)
            .arg("--work-dir")
            .arg(work)
            .env("RUNCELL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start runcell worker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("worker banner");
        assert_eq!(line.trim(), "worker running");
        Worker { child }
    }

    fn signal(&mut self, sig: i32) {
        // SAFETY: kill on our own, not yet reaped, child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// The i-th submission of the mix and its expected status.
fn mix(i: usize, marker: &str) -> (Value, i64) {
    let (src, lang, extra, want) = match i % 6 {
        0 => (format!("print({i})"), 71, json!({}), 3),
        1 => (
            "import time\ntime.sleep(0.3)\nprint('slow')".to_string(),
            71,
            json!({"expected_output": "slow"}),
            3,
        ),
        2 => (
            "print('no')".into(),
            71,
            json!({"expected_output": "yes"}),
            4,
        ),
        3 => ("exit 3".into(), 46, json!({}), 11),
        4 => ("int main( {".into(), 50, json!({}), 6),
        _ => (
            "while True: pass".into(),
            71,
            json!({"cpu_time_limit": 0.5, "wall_time_limit": 2}),
            5,
        ),
    };
    let mut body = json!({
        "source_code": src,
        "language_id": lang,
        // Shows in the program's command line: how leftover sandbox processes are found.
        "command_line_arguments": marker,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    (body, want)
}

#[test]
fn three_workers_one_killed_every_submission_ends_once() {
    let url = std::env::var("RUNCELL_TEST_POSTGRES")
        .expect("RUNCELL_TEST_POSTGRES is not set: source .ci/service-deps.sh");
    let db = format!("fleet_{}", uuid::Uuid::new_v4().simple());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let db_url = format!("{base}/{db}");

    let toml = "workers = 0\nmax_queue_size = 1000\nlease_secs = 4\nmax_attempts = 5\n";
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config(dir.path(), toml);
    let api = Server::start_with(tempfile::tempdir().unwrap(), &db_url, toml);
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&db_url, &cfg, &dir.path().join(format!("w{i}"))))
        .collect();

    let marker = format!("fleet-{}", uuid::Uuid::new_v4().simple());
    let mut expected = Vec::new();
    for batch in 0..15 {
        let items: Vec<(Value, i64)> = (0..20).map(|j| mix(batch * 20 + j, &marker)).collect();
        let body = json!({"submissions": items.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>()});
        let (code, v) = api.post("/submissions/batch", &body);
        assert_eq!(code, 201, "{v}");
        for ((_, want), t) in items.iter().zip(v.as_array().unwrap()) {
            expected.push((t["token"].as_str().unwrap().to_string(), *want));
        }
    }
    assert_eq!(expected.len(), 300);

    let (_, w) = api.get("/workers");
    assert_eq!(w[0]["workers"].as_array().unwrap().len(), 3, "{w}");

    // SIGKILL worker 0 while it holds jobs (its leases name its pid): one of the busy loops
    // (0.5 s of CPU plus the extra time), which cannot end between this query and the kill,
    // as a hello world can now.
    let victim = workers[0].child.id();
    let mut c = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let held: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM submissions WHERE status_id = 2 AND lease_owner LIKE $1 \
                 AND cpu_time_limit = 0.5",
                &[&format!("%-{victim}-%")],
            )
            .unwrap()
            .get(0);
        if held > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "worker 0 never held a busy loop");
        std::thread::sleep(Duration::from_millis(20));
    }
    workers[0].signal(libc::SIGKILL);
    let _ = workers[0].child.wait();

    // Every submission ends (generous deadline; the lease must lapse for the victim's jobs).
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let open: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM submissions WHERE status_id IN (1, 2)",
                &[],
            )
            .unwrap()
            .get(0);
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} submissions never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Through the API: each one exactly once, with the right status.
    let rows: i64 = c
        .query_one("SELECT COUNT(*) FROM submissions", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 300);
    for chunk in expected.chunks(20) {
        let tokens: Vec<&str> = chunk.iter().map(|(t, _)| t.as_str()).collect();
        let (code, v) = api.get(&format!(
            "/submissions/batch?tokens={}&fields=token,status_id,stdout,message,finished_at",
            tokens.join(",")
        ));
        assert_eq!(code, 200, "{v}");
        for ((t, want), got) in chunk.iter().zip(v["submissions"].as_array().unwrap()) {
            assert_eq!(got["token"], t.as_str());
            assert_eq!(got["status_id"], *want, "{got}");
            assert!(got["finished_at"].is_string(), "{got}");
        }
    }
    // The victim's jobs were run again by the others.
    let rerun: i64 = c
        .query_one("SELECT COUNT(*) FROM submissions WHERE attempts >= 2", &[])
        .unwrap()
        .get(0);
    assert!(rerun >= 1, "no job was re-run after the kill");
    let leased: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM submissions WHERE lease_until IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leased, 0);

    // /workers: the killed one stops being alive once its heartbeat is stale.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, w) = api.get("/workers");
        let list = w[0]["workers"].as_array().unwrap().clone();
        let dead = list
            .iter()
            .filter(|x| x["pid"] == victim && x["alive"] == false)
            .count();
        if dead == 1 {
            assert_eq!(list.iter().filter(|x| x["alive"] == true).count(), 2, "{w}");
            break;
        }
        assert!(Instant::now() < deadline, "killed worker still alive: {w}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // No sandbox process of any job is left (the killed worker's included).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = common::processes_matching(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sandbox processes left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(workers);
    drop(api);
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}
