//! The durable store: the submission row is the job.
//!
//! A worker claims a queued row (or one whose lease expired) in one short transaction, which
//! sets it Processing, records the worker as lease owner with a deadline and counts the
//! attempt. The running worker extends the lease; a worker that dies stops extending it and
//! the row becomes claimable again. The result write is fenced: it only changes a row still
//! owned by that worker, so a late write from a presumed-dead worker changes nothing. A row
//! whose lease expired after `max_attempts` claims ends as Internal Error with a message.
//!
//! The trait is synchronous: it is called from worker threads and, in the API, from
//! `spawn_blocking`.

pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use super::model::{RunResult, Submission};

/// A store error, with the database's message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused or lost, server shutting down or
    /// starting up): the call may succeed later. The API answers 503; workers back off and
    /// retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("store: {0}")]
    Failed(String),
}

impl StoreError {
    /// Whether the database could not be reached (worth retrying later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Result of store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A registered worker as /workers reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkerInfo {
    pub id: String,
    pub hostname: String,
    pub pid: i64,
    pub threads: i64,
    pub started_at: String,
    pub last_seen: String,
    pub running: i64,
    pub completed: i64,
    pub alive: bool,
}

/// Counts for /statistics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub total: i64,
    pub today: i64,
    pub last_30_days: i64,
    pub by_language: Vec<(i64, i64)>,
    pub by_status: Vec<(i64, i64)>,
}

/// Storage of submissions, the job queue and the worker registry.
pub trait Store: Send + Sync {
    /// Insert new submissions (status In Queue).
    fn insert(&self, subs: &[Submission]) -> Result<()>;
    /// One submission by token.
    fn get(&self, token: &str) -> Result<Option<Submission>>;
    /// Several by token (missing ones left out).
    fn get_many(&self, tokens: &[String]) -> Result<Vec<Submission>>;
    /// A page, newest first, and the total count.
    fn list(&self, page: i64, per_page: i64) -> Result<(Vec<Submission>, i64)>;
    /// Delete a finished submission; `Ok(false)` when there is none.
    fn delete(&self, token: &str) -> Result<bool>;
    /// Submissions waiting (In Queue).
    fn queue_depth(&self) -> Result<i64>;
    /// Submissions being run (Processing).
    fn processing(&self) -> Result<i64>;
    /// Claim the oldest runnable submission for `worker`. Rows whose lease expired after
    /// `max_attempts` claims are ended as Internal Error on the way.
    fn claim(&self, worker: &str, lease: Duration, max_attempts: i64)
    -> Result<Option<Submission>>;
    /// Extend the lease of `token` if `worker` still owns it.
    fn extend(&self, token: &str, worker: &str, lease: Duration) -> Result<bool>;
    /// Write the result if `worker` still owns the lease; `Ok(false)` when it does not.
    /// Idempotent for the owner: when an earlier call's write was committed but its answer
    /// was lost (the connection dropped), calling again answers `Ok(true)` without writing
    /// again (the row keeps `lease_owner` = the worker that wrote its result).
    fn finish(&self, token: &str, worker: &str, result: &RunResult) -> Result<bool>;
    /// Owners of the submissions being run (Processing) and of the pending callbacks being
    /// sent.
    fn lease_owners(&self) -> Result<Vec<String>>;
    /// Make the leases of every owner starting with `prefix` lapse now (its process is known
    /// to be dead, or is stopping): their jobs and pending callbacks are claimable at once.
    /// Returns how many jobs and callbacks.
    fn expire_leases(&self, prefix: &str) -> Result<u64>;
    /// Take the pending callback of `token` for `owner` until `lease` from now: only while it
    /// is pending and nobody else holds it (unowned, ours, or its lease lapsed). Returns the
    /// tries made so far; `None` when it is not ours to send (delivered, given up, another
    /// process's). A callback already tried `max_tries` times is given up here.
    fn claim_callback(
        &self,
        token: &str,
        owner: &str,
        lease: Duration,
        max_tries: i64,
    ) -> Result<Option<i64>>;
    /// Record one try of `owner`'s callback of `token`: delivered, or failed (one more try
    /// counted; given up at `max_tries`, else held by `owner` for `retry_in` before the next
    /// try). Returns whether another try is due.
    fn callback_tried(
        &self,
        token: &str,
        owner: &str,
        delivered: bool,
        max_tries: i64,
        retry_in: Duration,
    ) -> Result<bool>;
    /// Tokens of pending callbacks nobody holds (never taken, or their lease lapsed), oldest
    /// first, at most `limit`.
    fn due_callbacks(&self, limit: i64) -> Result<Vec<String>>;
    /// Register or refresh a worker (heartbeat).
    fn heartbeat(&self, w: &WorkerInfo) -> Result<()>;
    /// Remove a worker from the registry (clean exit).
    fn unregister(&self, id: &str) -> Result<()>;
    /// Registered workers; `alive` when seen within `stale`.
    fn workers(&self, stale: Duration) -> Result<Vec<WorkerInfo>>;
    /// Counts for /statistics.
    fn stats(&self) -> Result<Stats>;
    /// Whether workers of other processes may finish jobs (the API then polls for results).
    fn shared(&self) -> bool;
    /// Call `on_finished(token)` whenever any process stores a job's final result, for as
    /// long as this process lives (PostgreSQL: `LISTEN`, on a connection of its own that
    /// reconnects by itself; a notification sent while it reconnects is missed, so callers
    /// still poll now and then). `false`: this store has no such notifications.
    fn watch_finished(&self, on_finished: std::sync::Arc<dyn Fn(&str) + Send + Sync>) -> bool {
        let _ = on_finished;
        false
    }
}

/// Open the store named by `database`: `postgres://...`/`postgresql://...`, `sqlite:PATH`,
/// or a path.
pub fn open(database: &str) -> Result<Box<dyn Store>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(database)?))
    } else {
        let path = database.strip_prefix("sqlite:").unwrap_or(database);
        Ok(Box::new(sqlite::SqliteStore::open(path)?))
    }
}

// Durable callbacks. A submission with a callback URL gets `callback_state` 1 (pending) in
// the same statement that stores its final result, so the callback survives any restart;
// 2 = delivered (the receiver answered 2xx), 3 = given up (`callbacks_max_tries` tries
// failed). `callback_tries` counts the tries, `callback_owner`/`callback_until` are the lease
// of the process sending it (see `Store::claim_callback`).

/// Microseconds of a duration, for lease arithmetic in SQL.
pub fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::model::{RunResult, Submission, status};

    fn sub(token: &str) -> Submission {
        Submission {
            token: token.into(),
            source_code: Some(b"print(1)".to_vec()),
            language_id: 71,
            number_of_runs: 1,
            cpu_time_limit: 5.0,
            cpu_extra_time: 1.0,
            wall_time_limit: 10.0,
            memory_limit: 128_000,
            stack_limit: 64_000,
            max_processes_and_or_threads: 60,
            max_file_size: 1024,
            status_id: status::IN_QUEUE,
            created_at: crate::serve::model::now_micros(),
            ..Default::default()
        }
    }

    /// The queue contract every store must keep: claims are exclusive, a lapsed lease is
    /// claimable again, a result is written only by the lease owner, and the attempt cap ends
    /// a job as Internal Error.
    fn contract(s: &dyn Store) {
        let long = Duration::from_secs(60);
        let none = Duration::from_micros(1);
        s.insert(&[sub("a"), sub("b")]).unwrap();
        assert_eq!(s.queue_depth().unwrap(), 2);
        let a = s.claim("w1", long, 3).unwrap().unwrap();
        assert_eq!(a.token, "a", "oldest first");
        let b = s.claim("w2", long, 3).unwrap().unwrap();
        assert_eq!(b.token, "b");
        assert!(s.claim("w3", long, 3).unwrap().is_none(), "nothing left");
        assert!(s.extend("a", "w1", long).unwrap());
        assert!(
            !s.extend("a", "w2", long).unwrap(),
            "only the owner extends"
        );

        // w2's lease on b lapses; w3 takes b over; w2's late result is refused.
        assert!(s.extend("b", "w2", none).unwrap());
        std::thread::sleep(Duration::from_millis(5));
        let b2 = s.claim("w3", long, 3).unwrap().unwrap();
        assert_eq!(b2.token, "b");
        let late = RunResult {
            status_id: status::WRONG_ANSWER,
            ..Default::default()
        };
        assert!(!s.finish("b", "w2", &late).unwrap(), "fenced");
        let ok = RunResult {
            status_id: status::ACCEPTED,
            stdout: Some(b"1\n".to_vec()),
            time: Some(0.01),
            ..Default::default()
        };
        assert!(s.finish("b", "w3", &ok).unwrap());
        let first = s.get("b").unwrap().unwrap().finished_at;
        // The owner repeating its write (its first answer lost) is told it is written; the
        // row keeps the first result.
        assert!(
            s.finish("b", "w3", &late).unwrap(),
            "idempotent for the owner"
        );
        assert!(!s.finish("b", "w2", &late).unwrap(), "still fenced");
        let got = s.get("b").unwrap().unwrap();
        assert_eq!(got.finished_at, first, "written once");
        assert_eq!(got.status_id, status::ACCEPTED);
        assert_eq!(got.stdout.as_deref(), Some(&b"1\n"[..]));
        assert!(got.finished_at.is_some());

        // a: every claim lapses until the cap ends it as Internal Error.
        let mut owner = "w1".to_string();
        for i in 0..2 {
            assert!(s.extend("a", &owner, none).unwrap());
            std::thread::sleep(Duration::from_millis(5));
            let next = format!("r{i}");
            let c = s.claim(&next, long, 3).unwrap().unwrap();
            assert_eq!(c.token, "a");
            owner = next;
        }
        assert!(s.extend("a", &owner, none).unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.claim("r9", long, 3).unwrap().is_none());
        let a = s.get("a").unwrap().unwrap();
        assert_eq!(a.status_id, status::INTERNAL);
        assert!(a.message.unwrap().contains("claimed 3 times"));
        assert_eq!(s.processing().unwrap(), 0);

        // A dead owner's leases lapse at once when asked (by owner prefix, exactly).
        s.insert(&[sub("c"), sub("d")]).unwrap();
        s.claim("host-1-ab/0", long, 3).unwrap().unwrap();
        s.claim("host-10-cd/0", long, 3).unwrap().unwrap();
        let mut owners = s.lease_owners().unwrap();
        owners.sort();
        assert_eq!(owners, ["host-1-ab/0", "host-10-cd/0"]);
        assert_eq!(s.expire_leases("host-1-ab/").unwrap(), 1);
        assert_eq!(
            s.expire_leases("host-1_%").unwrap(),
            0,
            "no pattern matching"
        );
        assert_eq!(s.claim("w9", long, 3).unwrap().unwrap().token, "c");
        assert!(s.claim("w9", long, 3).unwrap().is_none());
        for t in ["c", "d"] {
            let owner = if t == "c" { "w9" } else { "host-10-cd/0" };
            assert!(s.finish(t, owner, &ok).unwrap());
            assert!(s.delete(t).unwrap());
        }

        // Durable callbacks: pending with the result, one sender at a time, tries counted,
        // given up at the cap, a dead sender's lease released by prefix.
        let mut cb = sub("e");
        cb.callback_url = Some("http://127.0.0.1:9/".into());
        s.insert(&[cb, sub("f")]).unwrap();
        for t in ["e", "f"] {
            assert_eq!(s.claim("x", long, 3).unwrap().unwrap().token, t);
            assert!(s.finish(t, "x", &ok).unwrap());
        }
        assert_eq!(s.due_callbacks(10).unwrap(), ["e"], "only a row with a URL");
        assert_eq!(
            s.claim_callback("e", "p1/callbacks", long, 2).unwrap(),
            Some(0)
        );
        assert_eq!(
            s.claim_callback("e", "p2/callbacks", long, 2).unwrap(),
            None,
            "held"
        );
        assert!(s.due_callbacks(10).unwrap().is_empty());
        assert!(
            s.lease_owners()
                .unwrap()
                .contains(&"p1/callbacks".to_string())
        );
        assert!(
            s.callback_tried("e", "p1/callbacks", false, 2, none)
                .unwrap(),
            "one try left"
        );
        assert!(
            !s.callback_tried("e", "p2/callbacks", false, 2, none)
                .unwrap(),
            "not p2's"
        );
        // p1 dies: its hold is released by prefix; p2 takes the callback with one try done.
        assert_eq!(s.expire_leases("p1/").unwrap(), 1);
        assert_eq!(s.due_callbacks(10).unwrap(), ["e"]);
        assert_eq!(
            s.claim_callback("e", "p2/callbacks", long, 2).unwrap(),
            Some(1)
        );
        assert!(
            !s.callback_tried("e", "p2/callbacks", false, 2, none)
                .unwrap(),
            "given up"
        );
        assert!(s.due_callbacks(10).unwrap().is_empty());
        assert_eq!(
            s.claim_callback("e", "p2/callbacks", long, 2).unwrap(),
            None
        );
        for t in ["e", "f"] {
            assert!(s.delete(t).unwrap());
        }
        let mut cb = sub("g");
        cb.callback_url = Some("http://127.0.0.1:9/".into());
        s.insert(&[cb]).unwrap();
        assert_eq!(s.claim("x", long, 3).unwrap().unwrap().token, "g");
        assert!(s.finish("g", "x", &ok).unwrap());
        assert_eq!(
            s.claim_callback("g", "p3/callbacks", long, 2).unwrap(),
            Some(0)
        );
        assert!(
            !s.callback_tried("g", "p3/callbacks", true, 2, none)
                .unwrap()
        );
        assert!(s.due_callbacks(10).unwrap().is_empty(), "delivered");
        assert_eq!(
            s.claim_callback("g", "p3/callbacks", long, 2).unwrap(),
            None
        );
        assert!(s.delete("g").unwrap());

        assert!(s.delete("a").unwrap());
        assert!(s.get("a").unwrap().is_none());
        let (page, total) = s.list(1, 10).unwrap();
        assert_eq!((page.len(), total), (1, 1));

        let w = WorkerInfo {
            id: "proc-1".into(),
            hostname: "h".into(),
            pid: 1,
            threads: 2,
            started_at: String::new(),
            last_seen: String::new(),
            running: 1,
            completed: 5,
            alive: true,
        };
        s.heartbeat(&w).unwrap();
        s.heartbeat(&w).unwrap();
        let ws = s.workers(Duration::from_secs(60)).unwrap();
        assert_eq!(ws.len(), 1);
        assert!(ws[0].alive);
        s.unregister("proc-1").unwrap();
        assert!(s.workers(Duration::from_secs(60)).unwrap().is_empty());
        assert_eq!(s.stats().unwrap().total, 1);
    }

    #[test]
    fn sqlite_keeps_the_queue_contract() {
        let d = tempfile::tempdir().unwrap();
        let s = sqlite::SqliteStore::open(d.path().join("db").to_str().unwrap()).unwrap();
        contract(&s);
    }

    /// Needs RUNCELL_TEST_POSTGRES (set by .ci/service-deps.sh): fails without it.
    #[test]
    fn postgres_keeps_the_queue_contract() {
        let url = std::env::var("RUNCELL_TEST_POSTGRES")
            .expect("RUNCELL_TEST_POSTGRES is not set: source .ci/service-deps.sh");
        let db = format!("contract_{}", uuid::Uuid::new_v4().simple());
        let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        let s = postgres::PgStore::open(&format!("{base}/{db}")).unwrap();
        contract(&s);
        drop(s);
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }

    /// 48 threads hammering one PgStore never hold more than its pool's connections: the
    /// others wait for one instead of making the server fork a backend each.
    #[test]
    fn postgres_connections_are_bounded_by_the_pool() {
        let url = std::env::var("RUNCELL_TEST_POSTGRES")
            .expect("RUNCELL_TEST_POSTGRES is not set: source .ci/service-deps.sh");
        let db = format!("pool_{}", uuid::Uuid::new_v4().simple());
        let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        let s = std::sync::Arc::new(postgres::PgStore::open(&format!("{base}/{db}")).unwrap());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watch = {
            let (url, db, stop) = (url.clone(), db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
                let mut most = 0i64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let n: i64 = c
                        .query_one(
                            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1",
                            &[&db],
                        )
                        .unwrap()
                        .get(0);
                    most = most.max(n);
                }
                most
            })
        };
        let callers: Vec<_> = (0..48)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        s.queue_depth().unwrap();
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let most = watch.join().unwrap();
        assert!(most >= 1, "the store's connections were never seen");
        assert!(most <= 16, "{most} connections open at once");
        drop(s);
        admin
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .unwrap();
    }
}
