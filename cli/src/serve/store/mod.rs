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

/// A store error (the database's message).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
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
    fn finish(&self, token: &str, worker: &str, result: &RunResult) -> Result<bool>;
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

/// Milliseconds of a duration, for lease arithmetic in SQL.
pub fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

impl std::error::Error for StoreError {}
