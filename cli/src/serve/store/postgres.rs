//! The PostgreSQL store, for API nodes and worker processes on many machines. Claims take the
//! oldest runnable row with `FOR UPDATE SKIP LOCKED` in one statement, so concurrent workers
//! never wait on each other's rows; lease times come from the database clock, so clock skew
//! between machines does not matter.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::types::Type;
use postgres::{Client, NoTls, Row};

use super::sqlite::{CALLBACK_PENDING, COLUMNS, exhausted_message};
use super::{Result, Stats, Store, StoreError, WorkerInfo, micros};
use crate::serve::model::{RunResult, Submission, format_time, status};

/// The database clock in microseconds since the epoch.
const NOW_US: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    id BIGSERIAL PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    source_code BYTEA, language_id BIGINT NOT NULL, compiler_options TEXT,
    command_line_arguments TEXT, stdin BYTEA, expected_output BYTEA,
    number_of_runs BIGINT NOT NULL, cpu_time_limit DOUBLE PRECISION NOT NULL,
    cpu_extra_time DOUBLE PRECISION NOT NULL, wall_time_limit DOUBLE PRECISION NOT NULL,
    memory_limit BIGINT NOT NULL, stack_limit BIGINT NOT NULL,
    max_processes_and_or_threads BIGINT NOT NULL,
    enable_per_process_and_thread_time_limit BOOLEAN NOT NULL,
    enable_per_process_and_thread_memory_limit BOOLEAN NOT NULL,
    max_file_size BIGINT NOT NULL, redirect_stderr_to_stdout BOOLEAN NOT NULL,
    enable_network BOOLEAN NOT NULL, callback_url TEXT, additional_files BYTEA,
    status_id BIGINT NOT NULL, created_at BIGINT NOT NULL, finished_at BIGINT,
    time DOUBLE PRECISION, wall_time DOUBLE PRECISION, memory BIGINT, stdout BYTEA,
    stderr BYTEA, compile_output BYTEA, exit_code BIGINT, exit_signal BIGINT, message TEXT,
    lease_owner TEXT, lease_until BIGINT, attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS submissions_runnable ON submissions(id) WHERE status_id IN (1, 2);
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS callback_state BIGINT;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS callback_tries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS callback_owner TEXT;
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS callback_until BIGINT;
CREATE INDEX IF NOT EXISTS submissions_callbacks ON submissions(id) WHERE callback_state = 1;
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, hostname TEXT NOT NULL, pid BIGINT NOT NULL,
    threads BIGINT NOT NULL, started_at BIGINT NOT NULL, last_seen BIGINT NOT NULL,
    running BIGINT NOT NULL, completed BIGINT NOT NULL
);
";

/// A connection error, or the server shutting down or starting up, is `Unavailable` (worth
/// retrying later); anything the server answered otherwise is `Failed`.
fn err(e: postgres::Error) -> StoreError {
    if unreachable(&e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Failed(e.to_string())
    }
}

fn unreachable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        // Class 08 (connection exception) and 57P0x (admin/crash shutdown, cannot connect
        // now: the server is starting or stopping).
        Some(c) => {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        }
        // No SQLSTATE: the connection's own errors (refused, reset, timed out) carry the I/O
        // error; a conversion or parameter error does not.
        None => {
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                if s.is::<std::io::Error>() {
                    return true;
                }
                src = s.source();
            }
            false
        }
    }
}

fn row_to_submission(r: &Row) -> std::result::Result<Submission, postgres::Error> {
    Ok(Submission {
        token: r.try_get(0)?,
        source_code: r.try_get(1)?,
        language_id: r.try_get(2)?,
        compiler_options: r.try_get(3)?,
        command_line_arguments: r.try_get(4)?,
        stdin: r.try_get(5)?,
        expected_output: r.try_get(6)?,
        number_of_runs: r.try_get(7)?,
        cpu_time_limit: r.try_get(8)?,
        cpu_extra_time: r.try_get(9)?,
        wall_time_limit: r.try_get(10)?,
        memory_limit: r.try_get(11)?,
        stack_limit: r.try_get(12)?,
        max_processes_and_or_threads: r.try_get(13)?,
        enable_per_process_and_thread_time_limit: r.try_get(14)?,
        enable_per_process_and_thread_memory_limit: r.try_get(15)?,
        max_file_size: r.try_get(16)?,
        redirect_stderr_to_stdout: r.try_get(17)?,
        enable_network: r.try_get(18)?,
        callback_url: r.try_get(19)?,
        additional_files: r.try_get(20)?,
        status_id: r.try_get(21)?,
        created_at: r.try_get(22)?,
        finished_at: r.try_get(23)?,
        time: r.try_get(24)?,
        wall_time: r.try_get(25)?,
        memory: r.try_get(26)?,
        stdout: r.try_get(27)?,
        stderr: r.try_get(28)?,
        compile_output: r.try_get(29)?,
        exit_code: r.try_get(30)?,
        exit_signal: r.try_get(31)?,
        message: r.try_get(32)?,
    })
}

/// The PostgreSQL store: a bounded pool of synchronous connections.
///
/// At most [`POOL`] connections are open per process; a call that finds them all busy waits
/// for one (up to [`POOL_WAIT`]) instead of opening another, so a burst of API requests
/// queues for a few microseconds rather than making the server fork a backend per request.
///
/// A restart or outage of the server is survived without restarting this process: every call
/// takes a pooled connection or connects anew (bounded by a connect timeout), a call that
/// finds the server gone returns [`StoreError::Unavailable`] and empties the pool (its other
/// connections are as dead), and calls that are safe to repeat are retried once on a fresh
/// connection when a pooled one turns out to be stale.
pub struct PgStore {
    config: postgres::Config,
    pool: Mutex<Slots>,
    freed: Condvar,
}

/// The pool's state: idle connections, and how many are open (idle or in use).
struct Slots {
    idle: Vec<Client>,
    open: usize,
}

/// Connections open at most per process.
const POOL: usize = 16;
/// How long a call waits for a busy pool before answering Unavailable.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// Whether a call may be repeated after its connection failed mid-way: reads, lease
/// extensions, heartbeats, idempotent writes.
#[derive(Clone, Copy, PartialEq)]
enum Retry {
    Once,
    Never,
}

/// A connection slot held by one call: gives the connection back (or the slot, when the
/// connection is closed or absent) when dropped, whatever happened.
struct Held<'a> {
    store: &'a PgStore,
    client: Option<Client>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let Ok(mut p) = self.store.pool.lock() else {
            return;
        };
        match self.client.take() {
            Some(c) if !c.is_closed() => p.idle.push(c),
            _ => p.open = p.open.saturating_sub(1),
        }
        drop(p);
        self.store.freed.notify_one();
    }
}

impl PgStore {
    /// Connect, create the schema if missing. The URL is libpq's; without a
    /// `connect_timeout` it gets 10 s, and TCP keepalives are probed after 30 s idle so a
    /// connection to a vanished server is noticed instead of hanging.
    pub fn open(url: &str) -> Result<PgStore> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Failed(format!("database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let store = PgStore {
            config,
            pool: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        store.with(Retry::Never, |c| {
            // Two processes starting at once both create the schema: serialize them.
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock(7236151)", &[])?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()
        })?;
        Ok(store)
    }

    fn connect(&self) -> Result<Client> {
        self.config.connect(NoTls).map_err(err)
    }

    /// A slot with a connection: an idle one (`true`), or a new one (`false`) while fewer
    /// than [`POOL`] are open, or the next one given back.
    fn checkout(&self) -> Result<(Held<'_>, bool)> {
        let poisoned = || StoreError::Failed("connection pool mutex poisoned".into());
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut p = self.pool.lock().map_err(|_| poisoned())?;
        loop {
            while let Some(c) = p.idle.pop() {
                if c.is_closed() {
                    p.open = p.open.saturating_sub(1);
                    continue;
                }
                let held = Held {
                    store: self,
                    client: Some(c),
                };
                return Ok((held, true));
            }
            if p.open < POOL {
                p.open += 1;
                drop(p);
                // From here the slot is ours: `Held` gives it back even if connecting fails.
                let mut held = Held {
                    store: self,
                    client: None,
                };
                held.client = Some(self.connect()?);
                return Ok((held, false));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable(format!(
                    "all {POOL} database connections stayed busy for {} s",
                    POOL_WAIT.as_secs()
                )));
            }
            p = self.freed.wait_timeout(p, left).map_err(|_| poisoned())?.0;
        }
    }

    fn with<T>(
        &self,
        retry: Retry,
        mut f: impl FnMut(&mut Client) -> std::result::Result<T, postgres::Error>,
    ) -> Result<T> {
        let (mut held, from_pool) = self.checkout()?;
        let Some(client) = held.client.as_mut() else {
            return Err(StoreError::Failed(
                "connection slot without a connection".into(),
            ));
        };
        let mut out = f(client);
        if let Err(e) = &out
            && unreachable(e)
        {
            // The server went away (restart, crash, network): every pooled connection is
            // as stale as this one.
            if let Ok(mut p) = self.pool.lock() {
                p.open = p.open.saturating_sub(p.idle.len());
                p.idle.clear();
            }
            if from_pool && retry == Retry::Once {
                // Same slot, new connection.
                held.client = None;
                let mut fresh = self.connect()?;
                out = f(&mut fresh);
                held.client = Some(fresh);
            }
        }
        drop(held);
        out.map_err(err)
    }
}

impl Store for PgStore {
    fn insert(&self, subs: &[Submission]) -> Result<()> {
        self.with(Retry::Once, |c| {
            let mut tx = c.transaction()?;
            let st = tx.prepare(&format!(
                "INSERT INTO submissions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
                 $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) \
                 ON CONFLICT (token) DO NOTHING"
            ))?;
            for s in subs {
                tx.execute(
                    &st,
                    &[
                        &s.token,
                        &s.source_code,
                        &s.language_id,
                        &s.compiler_options,
                        &s.command_line_arguments,
                        &s.stdin,
                        &s.expected_output,
                        &s.number_of_runs,
                        &s.cpu_time_limit,
                        &s.cpu_extra_time,
                        &s.wall_time_limit,
                        &s.memory_limit,
                        &s.stack_limit,
                        &s.max_processes_and_or_threads,
                        &s.enable_per_process_and_thread_time_limit,
                        &s.enable_per_process_and_thread_memory_limit,
                        &s.max_file_size,
                        &s.redirect_stderr_to_stdout,
                        &s.enable_network,
                        &s.callback_url,
                        &s.additional_files,
                        &s.status_id,
                        &s.created_at,
                        &s.finished_at,
                        &s.time,
                        &s.wall_time,
                        &s.memory,
                        &s.stdout,
                        &s.stderr,
                        &s.compile_output,
                        &s.exit_code,
                        &s.exit_signal,
                        &s.message,
                    ],
                )?;
            }
            tx.commit()
        })
    }

    fn get(&self, token: &str) -> Result<Option<Submission>> {
        // The hot statements use `query_typed`: parameters typed here, one round trip (no
        // separate prepare), which halves the round trips and the server's parse work.
        self.with(Retry::Once, |c| {
            c.query_typed_opt(
                &format!("SELECT {COLUMNS} FROM submissions WHERE token = $1"),
                &[(&token, Type::TEXT)],
            )?
            .as_ref()
            .map(row_to_submission)
            .transpose()
        })
    }

    fn get_many(&self, tokens: &[String]) -> Result<Vec<Submission>> {
        self.with(Retry::Once, |c| {
            c.query(
                &format!("SELECT {COLUMNS} FROM submissions WHERE token = ANY($1)"),
                &[&tokens],
            )?
            .iter()
            .map(row_to_submission)
            .collect()
        })
    }

    fn list(&self, page: i64, per_page: i64) -> Result<(Vec<Submission>, i64)> {
        self.with(Retry::Once, |c| {
            let total: i64 = c.query_one("SELECT COUNT(*) FROM submissions", &[])?.get(0);
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM submissions ORDER BY id DESC LIMIT $1 OFFSET $2"
                    ),
                    &[&per_page, &((page - 1) * per_page)],
                )?
                .iter()
                .map(row_to_submission)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((rows, total))
        })
    }

    fn delete(&self, token: &str) -> Result<bool> {
        self.with(Retry::Never, |c| {
            c.execute("DELETE FROM submissions WHERE token = $1", &[&token])
                .map(|n| n > 0)
        })
    }

    fn queue_depth(&self) -> Result<i64> {
        self.with(Retry::Once, |c| {
            c.query_typed_one("SELECT COUNT(*) FROM submissions WHERE status_id = 1", &[])
                .map(|r| r.get(0))
        })
    }

    fn processing(&self) -> Result<i64> {
        self.with(Retry::Once, |c| {
            c.query_one("SELECT COUNT(*) FROM submissions WHERE status_id = 2", &[])
                .map(|r| r.get(0))
        })
    }

    fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i64,
    ) -> Result<Option<Submission>> {
        self.with(Retry::Never, |c| {
            c.query_typed(
                &format!(
                    "WITH u AS (UPDATE submissions SET status_id = $1, message = $2, \
                     finished_at = {NOW_US}, lease_owner = NULL, lease_until = NULL, \
                     {CALLBACK_PENDING} \
                     WHERE status_id = 2 AND lease_until < {NOW_US} AND attempts >= $3 \
                     RETURNING token) SELECT pg_notify('{FINISHED_CHANNEL}', token) FROM u"
                ),
                &[
                    (&status::INTERNAL, Type::INT8),
                    (&exhausted_message(max_attempts), Type::TEXT),
                    (&max_attempts, Type::INT8),
                ],
            )?;
            let row = c.query_typed_opt(
                &format!(
                    "WITH c AS (SELECT id FROM submissions WHERE status_id = 1 \
                     OR (status_id = 2 AND lease_until < {NOW_US}) \
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     UPDATE submissions s SET status_id = 2, lease_owner = $1, \
                     lease_until = {NOW_US} + $2, attempts = s.attempts + 1 \
                     FROM c WHERE s.id = c.id RETURNING {}",
                    COLUMNS
                        .split(", ")
                        .map(|col| format!("s.{}", col.trim()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[(&worker, Type::TEXT), (&micros(lease), Type::INT8)],
            )?;
            row.as_ref().map(row_to_submission).transpose()
        })
    }

    fn extend(&self, token: &str, worker: &str, lease: Duration) -> Result<bool> {
        self.with(Retry::Once, |c| {
            c.execute(
                &format!(
                    "UPDATE submissions SET lease_until = {NOW_US} + $1 WHERE token = $2 \
                     AND status_id = 2 AND lease_owner = $3"
                ),
                &[&micros(lease), &token, &worker],
            )
            .map(|n| n > 0)
        })
    }

    fn finish(&self, token: &str, worker: &str, r: &RunResult) -> Result<bool> {
        self.with(Retry::Once, |c| {
            // The result and the notification (delivered at commit) in one statement.
            let n = c
                .query_typed(
                    &format!(
                        "WITH u AS (UPDATE submissions SET status_id = $1, time = $2, \
                     wall_time = $3, memory = $4, stdout = $5, stderr = $6, \
                     compile_output = $7, exit_code = $8, exit_signal = $9, message = $10, \
                     finished_at = {NOW_US}, lease_until = NULL, {CALLBACK_PENDING} \
                     WHERE token = $11 AND status_id = 2 AND lease_owner = $12 \
                     RETURNING token) \
                     SELECT pg_notify('{FINISHED_CHANNEL}', token) FROM u"
                    ),
                    &[
                        (&r.status_id, Type::INT8),
                        (&r.time, Type::FLOAT8),
                        (&r.wall_time, Type::FLOAT8),
                        (&r.memory, Type::INT8),
                        (&r.stdout, Type::BYTEA),
                        (&r.stderr, Type::BYTEA),
                        (&r.compile_output, Type::BYTEA),
                        (&r.exit_code, Type::INT8),
                        (&r.exit_signal, Type::INT8),
                        (&r.message, Type::TEXT),
                        (&token, Type::TEXT),
                        (&worker, Type::TEXT),
                    ],
                )?
                .len();
            if n > 0 {
                return Ok(true);
            }
            // Already written by this worker (an earlier answer was lost)?
            Ok(c.query_opt(
                "SELECT 1 FROM submissions WHERE token = $1 AND lease_owner = $2 \
                 AND status_id > 2",
                &[&token, &worker],
            )?
            .is_some())
        })
    }

    fn lease_owners(&self) -> Result<Vec<String>> {
        self.with(Retry::Once, |c| {
            Ok(c.query(
                "SELECT lease_owner FROM submissions WHERE status_id = 2 \
                 AND lease_owner IS NOT NULL UNION SELECT callback_owner FROM submissions \
                 WHERE callback_state = 1 AND callback_owner IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn expire_leases(&self, prefix: &str) -> Result<u64> {
        self.with(Retry::Once, |c| {
            let jobs = c.execute(
                "UPDATE submissions SET lease_until = 0 WHERE status_id = 2 \
                 AND left(lease_owner, length($1)) = $1",
                &[&prefix],
            )?;
            let callbacks = c.execute(
                "UPDATE submissions SET callback_owner = NULL, callback_until = NULL \
                 WHERE callback_state = 1 AND left(callback_owner, length($1)) = $1",
                &[&prefix],
            )?;
            Ok(jobs + callbacks)
        })
    }

    fn claim_callback(
        &self,
        token: &str,
        owner: &str,
        lease: Duration,
        max_tries: i64,
    ) -> Result<Option<i64>> {
        self.with(Retry::Never, |c| {
            let tries: Option<i64> = c
                .query_opt(
                    &format!(
                        "UPDATE submissions SET callback_owner = $1, \
                         callback_until = {NOW_US} + $2 WHERE token = $3 \
                         AND callback_state = 1 AND (callback_owner IS NULL \
                         OR callback_owner = $1 OR callback_until < {NOW_US}) \
                         RETURNING callback_tries"
                    ),
                    &[&owner, &micros(lease), &token],
                )?
                .map(|r| r.get(0));
            match tries {
                Some(t) if t >= max_tries => {
                    c.execute(
                        "UPDATE submissions SET callback_state = 3, callback_owner = NULL, \
                         callback_until = NULL WHERE token = $1 AND callback_owner = $2",
                        &[&token, &owner],
                    )?;
                    Ok(None)
                }
                t => Ok(t),
            }
        })
    }

    fn callback_tried(
        &self,
        token: &str,
        owner: &str,
        delivered: bool,
        max_tries: i64,
        retry_in: Duration,
    ) -> Result<bool> {
        self.with(Retry::Never, |c| {
            if delivered {
                c.execute(
                    "UPDATE submissions SET callback_state = 2, callback_tries = \
                     callback_tries + 1, callback_owner = NULL, callback_until = NULL \
                     WHERE token = $1 AND callback_state = 1 AND callback_owner = $2",
                    &[&token, &owner],
                )?;
                return Ok(false);
            }
            let state: Option<i64> = c
                .query_opt(
                    &format!(
                        "UPDATE submissions SET callback_tries = callback_tries + 1, \
                         callback_state = CASE WHEN callback_tries + 1 >= $1 THEN 3 ELSE 1 END, \
                         callback_owner = CASE WHEN callback_tries + 1 >= $1 THEN NULL \
                         ELSE callback_owner END, callback_until = {NOW_US} + $2 \
                         WHERE token = $3 AND callback_state = 1 AND callback_owner = $4 \
                         RETURNING callback_state"
                    ),
                    &[&max_tries, &micros(retry_in), &token, &owner],
                )?
                .map(|r| r.get(0));
            Ok(state == Some(1))
        })
    }

    fn due_callbacks(&self, limit: i64) -> Result<Vec<String>> {
        self.with(Retry::Once, |c| {
            Ok(c.query(
                &format!(
                    "SELECT token FROM submissions WHERE callback_state = 1 AND \
                     (callback_owner IS NULL OR callback_until < {NOW_US}) \
                     ORDER BY id LIMIT $1"
                ),
                &[&limit],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn heartbeat(&self, w: &WorkerInfo) -> Result<()> {
        self.with(Retry::Once, |c| {
            c.execute(
                &format!(
                    "INSERT INTO workers (id, hostname, pid, threads, started_at, last_seen, \
                     running, completed) VALUES ($1, $2, $3, $4, {NOW_US}, {NOW_US}, $5, $6) \
                     ON CONFLICT (id) DO UPDATE SET last_seen = {NOW_US}, running = $5, \
                     completed = $6"
                ),
                &[
                    &w.id,
                    &w.hostname,
                    &w.pid,
                    &w.threads,
                    &w.running,
                    &w.completed,
                ],
            )
            .map(|_| ())
        })
    }

    fn unregister(&self, id: &str) -> Result<()> {
        self.with(Retry::Once, |c| {
            c.execute("DELETE FROM workers WHERE id = $1", &[&id])
                .map(|_| ())
        })
    }

    fn workers(&self, stale: Duration) -> Result<Vec<WorkerInfo>> {
        self.with(Retry::Once, |c| {
            let rows = c.query(
                &format!(
                    "SELECT id, hostname, pid, threads, started_at, last_seen, running, \
                     completed, {NOW_US} FROM workers ORDER BY started_at"
                ),
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let last: i64 = r.get(5);
                    let now: i64 = r.get(8);
                    WorkerInfo {
                        id: r.get(0),
                        hostname: r.get(1),
                        pid: r.get(2),
                        threads: r.get(3),
                        started_at: format_time(r.get(4)),
                        last_seen: format_time(last),
                        running: r.get(6),
                        completed: r.get(7),
                        alive: now - last <= micros(stale),
                    }
                })
                .collect())
        })
    }

    fn stats(&self) -> Result<Stats> {
        self.with(Retry::Once, |c| {
            let day = 86_400_000_000i64;
            let now: i64 = c.query_one(&format!("SELECT {NOW_US}"), &[])?.get(0);
            let count = |c: &mut Client, since: i64| -> std::result::Result<i64, postgres::Error> {
                Ok(c.query_one(
                    "SELECT COUNT(*) FROM submissions WHERE created_at >= $1",
                    &[&since],
                )?
                .get(0))
            };
            let total = count(c, i64::MIN)?;
            let today = count(c, now - now.rem_euclid(day))?;
            let last_30_days = count(c, now - 30 * day)?;
            let pairs = |c: &mut Client, sql: &str| -> std::result::Result<Vec<(i64, i64)>, _> {
                Ok(c.query(sql, &[])?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect())
            };
            Ok(Stats {
                total,
                today,
                last_30_days,
                by_language: pairs(
                    c,
                    "SELECT language_id, COUNT(*) FROM submissions GROUP BY language_id \
                     ORDER BY 2 DESC",
                )?,
                by_status: pairs(
                    c,
                    "SELECT status_id, COUNT(*) FROM submissions GROUP BY status_id ORDER BY 1",
                )?,
            })
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn watch_finished(&self, on_finished: std::sync::Arc<dyn Fn(&str) + Send + Sync>) -> bool {
        let config = self.config.clone();
        std::thread::Builder::new()
            .name("runcell-pg-listen".into())
            .spawn(move || listen_finished(&config, on_finished.as_ref()))
            .is_ok()
    }
}

/// Channel of the notifications of finished jobs (payload: the token).
const FINISHED_CHANNEL: &str = "runcell_finished";

/// `LISTEN` for finished jobs and call `f` with each token, forever: a lost connection (the
/// server restarting) is reconnected with back-off (100 ms doubling to 5 s).
fn listen_finished(config: &postgres::Config, f: &(dyn Fn(&str) + Send + Sync)) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut wait = Duration::from_millis(100);
    loop {
        let conn = config.connect(NoTls).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {FINISHED_CHANNEL}"))?;
            Ok(c)
        });
        match conn {
            Ok(mut c) => {
                wait = Duration::from_millis(100);
                loop {
                    // The timeout only bounds each wait: an idle connection is checked by
                    // TCP keepalives, a closed one ends the iterator with an error.
                    let next = c
                        .notifications()
                        .timeout_iter(Duration::from_secs(60))
                        .next();
                    match next {
                        Ok(Some(n)) => f(n.payload()),
                        Ok(None) if !c.is_closed() => {}
                        Ok(None) | Err(_) => break,
                    }
                }
                tracing::debug!("finished-job notifications: connection lost, reconnecting");
            }
            Err(e) => tracing::debug!(error = %e, "finished-job notifications: cannot connect"),
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}
