//! The embedded store: one SQLite file (WAL), one connection behind a mutex. Each call is a
//! short statement or transaction, so the mutex is held for microseconds.

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, Stats, Store, StoreError, WorkerInfo, micros};
use crate::serve::model::{RunResult, Submission, format_time, now_micros, status};

/// Columns of a submission, in the order `row_to_submission` reads them.
pub const COLUMNS: &str = "token, source_code, language_id, compiler_options, \
    command_line_arguments, stdin, expected_output, number_of_runs, cpu_time_limit, \
    cpu_extra_time, wall_time_limit, memory_limit, stack_limit, max_processes_and_or_threads, \
    enable_per_process_and_thread_time_limit, enable_per_process_and_thread_memory_limit, \
    max_file_size, redirect_stderr_to_stdout, enable_network, callback_url, additional_files, \
    status_id, created_at, finished_at, time, wall_time, memory, stdout, stderr, \
    compile_output, exit_code, exit_signal, message";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    source_code BLOB, language_id INTEGER NOT NULL, compiler_options TEXT,
    command_line_arguments TEXT, stdin BLOB, expected_output BLOB,
    number_of_runs INTEGER NOT NULL, cpu_time_limit REAL NOT NULL, cpu_extra_time REAL NOT NULL,
    wall_time_limit REAL NOT NULL, memory_limit INTEGER NOT NULL, stack_limit INTEGER NOT NULL,
    max_processes_and_or_threads INTEGER NOT NULL,
    enable_per_process_and_thread_time_limit INTEGER NOT NULL,
    enable_per_process_and_thread_memory_limit INTEGER NOT NULL,
    max_file_size INTEGER NOT NULL, redirect_stderr_to_stdout INTEGER NOT NULL,
    enable_network INTEGER NOT NULL, callback_url TEXT, additional_files BLOB,
    status_id INTEGER NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER,
    time REAL, wall_time REAL, memory INTEGER, stdout BLOB, stderr BLOB, compile_output BLOB,
    exit_code INTEGER, exit_signal INTEGER, message TEXT,
    lease_owner TEXT, lease_until INTEGER, attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS submissions_status ON submissions(status_id, id);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY, hostname TEXT NOT NULL, pid INTEGER NOT NULL,
    threads INTEGER NOT NULL, started_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    running INTEGER NOT NULL, completed INTEGER NOT NULL
);
";

/// The columns of durable callbacks (see [`super::callback`]).
pub const CALLBACK_COLUMNS: [(&str, &str); 4] = [
    ("callback_state", "INTEGER"),
    ("callback_tries", "INTEGER NOT NULL DEFAULT 0"),
    ("callback_owner", "TEXT"),
    ("callback_until", "INTEGER"),
];

/// The SET clause that makes a finished row's callback pending (when it has a URL).
pub const CALLBACK_PENDING: &str =
    "callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 1 END";

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Failed(e.to_string())
}

fn row_to_submission(r: &Row<'_>) -> rusqlite::Result<Submission> {
    Ok(Submission {
        token: r.get(0)?,
        source_code: r.get(1)?,
        language_id: r.get(2)?,
        compiler_options: r.get(3)?,
        command_line_arguments: r.get(4)?,
        stdin: r.get(5)?,
        expected_output: r.get(6)?,
        number_of_runs: r.get(7)?,
        cpu_time_limit: r.get(8)?,
        cpu_extra_time: r.get(9)?,
        wall_time_limit: r.get(10)?,
        memory_limit: r.get(11)?,
        stack_limit: r.get(12)?,
        max_processes_and_or_threads: r.get(13)?,
        enable_per_process_and_thread_time_limit: r.get(14)?,
        enable_per_process_and_thread_memory_limit: r.get(15)?,
        max_file_size: r.get(16)?,
        redirect_stderr_to_stdout: r.get(17)?,
        enable_network: r.get(18)?,
        callback_url: r.get(19)?,
        additional_files: r.get(20)?,
        status_id: r.get(21)?,
        created_at: r.get(22)?,
        finished_at: r.get(23)?,
        time: r.get(24)?,
        wall_time: r.get(25)?,
        memory: r.get(26)?,
        stdout: r.get(27)?,
        stderr: r.get(28)?,
        compile_output: r.get(29)?,
        exit_code: r.get(30)?,
        exit_signal: r.get(31)?,
        message: r.get(32)?,
    })
}

/// The SQLite store.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (or create) the database file.
    pub fn open(path: &str) -> Result<SqliteStore> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        // Room for every statement of the hot paths (claim, finish, insert, get, ...).
        conn.set_prepared_statement_cache_capacity(32);
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // Columns added since the first schema (a file made by an earlier version).
        let has: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('submissions')")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(err)?;
        for (col, ty) in CALLBACK_COLUMNS {
            if !has.iter().any(|h| h == col) {
                conn.execute_batch(&format!("ALTER TABLE submissions ADD COLUMN {col} {ty}"))
                    .map_err(err)?;
            }
        }
        conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS submissions_callbacks ON submissions(id) \
             WHERE callback_state = 1",
        )
        .map_err(err)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut c = self
            .conn
            .lock()
            .map_err(|_| StoreError::Failed("connection mutex poisoned".into()))?;
        f(&mut c).map_err(err)
    }
}

/// The message of a job that ran out of attempts.
pub fn exhausted_message(max_attempts: i64) -> String {
    format!(
        "the job was claimed {max_attempts} times and each worker stopped renewing its lease \
         (worker died or was killed); giving up"
    )
}

impl Store for SqliteStore {
    fn insert(&self, subs: &[Submission]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(&format!(
                    "INSERT INTO submissions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                     ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, \
                     ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)"
                ))?;
                for s in subs {
                    st.execute(params![
                        s.token,
                        s.source_code,
                        s.language_id,
                        s.compiler_options,
                        s.command_line_arguments,
                        s.stdin,
                        s.expected_output,
                        s.number_of_runs,
                        s.cpu_time_limit,
                        s.cpu_extra_time,
                        s.wall_time_limit,
                        s.memory_limit,
                        s.stack_limit,
                        s.max_processes_and_or_threads,
                        s.enable_per_process_and_thread_time_limit,
                        s.enable_per_process_and_thread_memory_limit,
                        s.max_file_size,
                        s.redirect_stderr_to_stdout,
                        s.enable_network,
                        s.callback_url,
                        s.additional_files,
                        s.status_id,
                        s.created_at,
                        s.finished_at,
                        s.time,
                        s.wall_time,
                        s.memory,
                        s.stdout,
                        s.stderr,
                        s.compile_output,
                        s.exit_code,
                        s.exit_signal,
                        s.message,
                    ])?;
                }
            }
            tx.commit()
        })
    }

    fn get(&self, token: &str) -> Result<Option<Submission>> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions WHERE token = ?1"
            ))?
            .query_row([token], row_to_submission)
            .optional()
        })
    }

    fn get_many(&self, tokens: &[String]) -> Result<Vec<Submission>> {
        let mut out = Vec::new();
        for t in tokens {
            if let Some(s) = self.get(t)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn list(&self, page: i64, per_page: i64) -> Result<(Vec<Submission>, i64)> {
        self.with(|c| {
            let total: i64 = c.query_row("SELECT COUNT(*) FROM submissions", [], |r| r.get(0))?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM submissions ORDER BY id DESC LIMIT ?1 OFFSET ?2"
            ))?;
            let rows = st
                .query_map(params![per_page, (page - 1) * per_page], row_to_submission)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((rows, total))
        })
    }

    fn delete(&self, token: &str) -> Result<bool> {
        self.with(|c| {
            c.execute("DELETE FROM submissions WHERE token = ?1", [token])
                .map(|n| n > 0)
        })
    }

    fn queue_depth(&self) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached("SELECT COUNT(*) FROM submissions WHERE status_id = 1")?
                .query_row([], |r| r.get(0))
        })
    }

    fn processing(&self) -> Result<i64> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM submissions WHERE status_id = 2",
                [],
                |r| r.get(0),
            )
        })
    }

    fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i64,
    ) -> Result<Option<Submission>> {
        self.with(|c| {
            let now = now_micros();
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Cached statements: the hot ones are parsed once per connection, not per job.
            tx.prepare_cached(&format!(
                "UPDATE submissions SET status_id = ?1, message = ?2, finished_at = ?3, \
                 lease_owner = NULL, lease_until = NULL, {CALLBACK_PENDING} \
                 WHERE status_id = 2 AND lease_until < ?3 AND attempts >= ?4"
            ))?
            .execute(params![
                status::INTERNAL,
                exhausted_message(max_attempts),
                now,
                max_attempts
            ])?;
            let id: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM submissions WHERE status_id = 1 \
                     OR (status_id = 2 AND lease_until < ?1) ORDER BY id LIMIT 1",
                )?
                .query_row([now], |r| r.get(0))
                .optional()?;
            let sub = match id {
                None => None,
                Some(id) => Some(
                    tx.prepare_cached(&format!(
                        "UPDATE submissions SET status_id = 2, lease_owner = ?1, \
                         lease_until = ?2, attempts = attempts + 1 WHERE id = ?3 \
                         RETURNING {COLUMNS}"
                    ))?
                    .query_row(params![worker, now + micros(lease), id], row_to_submission)?,
                ),
            };
            tx.commit()?;
            Ok(sub)
        })
    }

    fn extend(&self, token: &str, worker: &str, lease: Duration) -> Result<bool> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE submissions SET lease_until = ?1 WHERE token = ?2 AND status_id = 2 \
                 AND lease_owner = ?3",
            )?
            .execute(params![now_micros() + micros(lease), token, worker])
            .map(|n| n > 0)
        })
    }

    fn finish(&self, token: &str, worker: &str, r: &RunResult) -> Result<bool> {
        self.with(|c| {
            let n = c
                .prepare_cached(&format!(
                    "UPDATE submissions SET status_id = ?1, time = ?2, wall_time = ?3, \
                     memory = ?4, stdout = ?5, stderr = ?6, compile_output = ?7, \
                     exit_code = ?8, exit_signal = ?9, message = ?10, finished_at = ?11, \
                     lease_until = NULL, {CALLBACK_PENDING} \
                     WHERE token = ?12 AND status_id = 2 AND lease_owner = ?13"
                ))?
                .execute(params![
                    r.status_id,
                    r.time,
                    r.wall_time,
                    r.memory,
                    r.stdout,
                    r.stderr,
                    r.compile_output,
                    r.exit_code,
                    r.exit_signal,
                    r.message,
                    now_micros(),
                    token,
                    worker
                ])?;
            if n > 0 {
                return Ok(true);
            }
            // Already written by this worker?
            c.query_row(
                "SELECT 1 FROM submissions WHERE token = ?1 AND lease_owner = ?2 \
                 AND status_id > 2",
                params![token, worker],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
        })
    }

    fn lease_owners(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT lease_owner FROM submissions WHERE status_id = 2 \
                 AND lease_owner IS NOT NULL UNION SELECT callback_owner FROM submissions \
                 WHERE callback_state = 1 AND callback_owner IS NOT NULL",
            )?;
            st.query_map([], |r| r.get(0))?.collect()
        })
    }

    fn expire_leases(&self, prefix: &str) -> Result<u64> {
        self.with(|c| {
            let jobs = c.execute(
                "UPDATE submissions SET lease_until = 0 WHERE status_id = 2 \
                 AND substr(lease_owner, 1, length(?1)) = ?1",
                [prefix],
            )?;
            let callbacks = c.execute(
                "UPDATE submissions SET callback_owner = NULL, callback_until = NULL \
                 WHERE callback_state = 1 AND substr(callback_owner, 1, length(?1)) = ?1",
                [prefix],
            )?;
            Ok((jobs + callbacks) as u64)
        })
    }

    fn claim_callback(
        &self,
        token: &str,
        owner: &str,
        lease: Duration,
        max_tries: i64,
    ) -> Result<Option<i64>> {
        self.with(|c| {
            let now = now_micros();
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let tries: Option<i64> = tx
                .query_row(
                    "UPDATE submissions SET callback_owner = ?1, callback_until = ?2 \
                     WHERE token = ?3 AND callback_state = 1 AND (callback_owner IS NULL \
                     OR callback_owner = ?1 OR callback_until < ?4) RETURNING callback_tries",
                    params![owner, now + micros(lease), token, now],
                    |r| r.get(0),
                )
                .optional()?;
            let out = match tries {
                Some(t) if t >= max_tries => {
                    tx.execute(
                        "UPDATE submissions SET callback_state = 3, callback_owner = NULL, \
                         callback_until = NULL WHERE token = ?1",
                        [token],
                    )?;
                    None
                }
                t => t,
            };
            tx.commit()?;
            Ok(out)
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
        self.with(|c| {
            if delivered {
                c.execute(
                    "UPDATE submissions SET callback_state = 2, callback_tries = \
                     callback_tries + 1, callback_owner = NULL, callback_until = NULL \
                     WHERE token = ?1 AND callback_state = 1 AND callback_owner = ?2",
                    params![token, owner],
                )?;
                return Ok(false);
            }
            let state: Option<i64> = c
                .query_row(
                    "UPDATE submissions SET callback_tries = callback_tries + 1, \
                     callback_state = CASE WHEN callback_tries + 1 >= ?1 THEN 3 ELSE 1 END, \
                     callback_owner = CASE WHEN callback_tries + 1 >= ?1 THEN NULL \
                     ELSE callback_owner END, callback_until = ?2 \
                     WHERE token = ?3 AND callback_state = 1 AND callback_owner = ?4 \
                     RETURNING callback_state",
                    params![max_tries, now_micros() + micros(retry_in), token, owner],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(state == Some(1))
        })
    }

    fn due_callbacks(&self, limit: i64) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT token FROM submissions WHERE callback_state = 1 AND \
                 (callback_owner IS NULL OR callback_until < ?1) ORDER BY id LIMIT ?2",
            )?;
            st.query_map(params![now_micros(), limit], |r| r.get(0))?
                .collect()
        })
    }

    fn heartbeat(&self, w: &WorkerInfo) -> Result<()> {
        self.with(|c| {
            let now = now_micros();
            c.execute(
                "INSERT INTO workers (id, hostname, pid, threads, started_at, last_seen, running, \
                 completed) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE \
                 SET last_seen = ?5, running = ?6, completed = ?7",
                params![
                    w.id,
                    w.hostname,
                    w.pid,
                    w.threads,
                    now,
                    w.running,
                    w.completed
                ],
            )
            .map(|_| ())
        })
    }

    fn unregister(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM workers WHERE id = ?1", [id])
                .map(|_| ())
        })
    }

    fn workers(&self, stale: Duration) -> Result<Vec<WorkerInfo>> {
        self.with(|c| {
            let now = now_micros();
            let mut st = c.prepare_cached(
                "SELECT id, hostname, pid, threads, started_at, last_seen, running, completed \
                 FROM workers ORDER BY started_at",
            )?;
            st.query_map([], |r| {
                let last: i64 = r.get(5)?;
                Ok(WorkerInfo {
                    id: r.get(0)?,
                    hostname: r.get(1)?,
                    pid: r.get(2)?,
                    threads: r.get(3)?,
                    started_at: format_time(r.get(4)?),
                    last_seen: format_time(last),
                    running: r.get(6)?,
                    completed: r.get(7)?,
                    alive: now - last <= micros(stale),
                })
            })?
            .collect()
        })
    }

    fn stats(&self) -> Result<Stats> {
        self.with(|c| {
            let now = now_micros();
            let day = 86_400_000_000i64;
            let count = |sql: &str, p: i64| -> rusqlite::Result<i64> {
                c.query_row(sql, [p], |r| r.get(0))
            };
            let total = count("SELECT COUNT(*) FROM submissions WHERE ?1 = ?1", 0)?;
            let today = count(
                "SELECT COUNT(*) FROM submissions WHERE created_at >= ?1",
                now - now.rem_euclid(day),
            )?;
            let last_30_days = count(
                "SELECT COUNT(*) FROM submissions WHERE created_at >= ?1",
                now - 30 * day,
            )?;
            let pairs = |sql: &str| -> rusqlite::Result<Vec<(i64, i64)>> {
                let mut st = c.prepare(sql)?;
                st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
            };
            Ok(Stats {
                total,
                today,
                last_30_days,
                by_language: pairs(
                    "SELECT language_id, COUNT(*) FROM submissions GROUP BY language_id \
                     ORDER BY 2 DESC",
                )?,
                by_status: pairs(
                    "SELECT status_id, COUNT(*) FROM submissions GROUP BY status_id ORDER BY 1",
                )?,
            })
        })
    }

    fn shared(&self) -> bool {
        false
    }
}
