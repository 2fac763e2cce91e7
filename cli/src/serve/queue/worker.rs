//! The worker pool of one process: N threads claiming jobs, one keeper thread extending the
//! leases of running jobs and refreshing the worker's registration, and callbacks sent on the
//! async runtime so a slow callback URL never holds a worker.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::serve::config::Config;
use crate::serve::execute::Executor;
use crate::serve::languages::Languages;
use crate::serve::metrics::Metrics;
use crate::serve::model::{DEFAULT_FIELDS, RunResult, Submission};
use crate::serve::store::{Store, StoreError, WorkerInfo};

/// Wake-ups between the API and the workers of one process.
pub struct Hub {
    work: Mutex<u64>,
    cond: Condvar,
    /// `wait=true` requests waiting for their submission, by token: a finished job wakes its
    /// own waiter only (not every waiter, which would each read the store again).
    waiters: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            work: Mutex::new(0),
            cond: Condvar::new(),
            waiters: Mutex::new(HashMap::new()),
        }
    }
}

/// A registered `wait=true` waiter; unregisters itself when dropped.
pub struct Waiter<'a> {
    hub: &'a Hub,
    token: String,
    notify: Arc<tokio::sync::Notify>,
}

impl Waiter<'_> {
    /// Resolves once the job was reported finished (at once if it was since the last call).
    pub async fn finished(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.hub.waiters.lock() {
            w.remove(&self.token);
        }
    }
}

impl Hub {
    /// New jobs were queued.
    pub fn jobs_added(&self) {
        if let Ok(mut n) = self.work.lock() {
            *n += 1;
        }
        self.cond.notify_all();
    }

    /// Wait for `token` to finish (register before the job can run, i.e. before inserting
    /// it, so that no wake-up is missed).
    pub fn watch(&self, token: &str) -> Waiter<'_> {
        let notify = Arc::new(tokio::sync::Notify::new());
        if let Ok(mut w) = self.waiters.lock() {
            w.insert(token.to_string(), notify.clone());
        }
        Waiter {
            hub: self,
            token: token.to_string(),
            notify,
        }
    }

    /// The job `token` finished (its result is stored): wake its waiter, if any.
    pub fn finished(&self, token: &str) {
        let n = self.waiters.lock().ok().and_then(|w| w.get(token).cloned());
        if let Some(n) = n {
            // Stores a permit when the waiter is not waiting at this instant.
            n.notify_one();
        }
    }

    fn wait_for_work(&self, seen: &mut u64, timeout: Duration) {
        let Ok(guard) = self.work.lock() else { return };
        if *guard != *seen {
            *seen = *guard;
            return;
        }
        if let Ok((g, _)) = self.cond.wait_timeout(guard, timeout) {
            *seen = *g;
        }
    }
}

/// A running worker pool.
pub struct Pool {
    stop: Arc<AtomicBool>,
    /// Set once every worker thread has been joined: the keeper then exits whatever its
    /// running set says.
    joined: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    keeper: Option<JoinHandle<()>>,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    id: String,
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    exec: Executor,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    cfg: Config,
    langs: Arc<Languages>,
    stop: Arc<AtomicBool>,
    joined: Arc<AtomicBool>,
    running: Mutex<HashSet<(String, String)>>,
    completed: AtomicI64,
    rt: tokio::runtime::Handle,
    callbacks: reqwest::Client,
    /// Owner of the callbacks this process sends (`PROCESS/callbacks`).
    callback_owner: String,
    /// Tokens whose callback a task of this process is sending.
    sending: Mutex<HashSet<String>>,
    /// Set at shutdown: callback tasks make no new try.
    callbacks_stop: AtomicBool,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// This process's worker id: host, pid and a random suffix. A lease owner is this id, `/`
/// and the thread's index.
pub fn process_id() -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", hostname(), std::process::id(), &r[..8])
}

/// The process id prefix (`host-pid-suffix/`) of a lease owner whose process ran on this
/// host and no longer exists; `None` for other hosts, live pids (or a reused one: then the
/// lease lapses as usual) and owners this version did not write.
fn dead_local_owner(owner: &str, host: &str) -> Option<String> {
    let (process, thread) = owner.rsplit_once('/')?;
    if thread != CALLBACKS {
        thread.parse::<usize>().ok()?;
    }
    let mut it = process.rsplitn(3, '-');
    let (_suffix, pid, owner_host) = (it.next()?, it.next()?, it.next()?);
    let pid: u32 = pid.parse().ok()?;
    if owner_host != host || pid == std::process::id() {
        return None;
    }
    (!Path::new(&format!("/proc/{pid}")).exists()).then(|| format!("{process}/"))
}

/// The thread part of the owner of a process's callbacks.
const CALLBACKS: &str = "callbacks";

/// On an embedded (single-machine) store, the jobs a killed earlier process held are freed at
/// start instead of after their leases: every worker of that store ran on this host, so a
/// lease owner whose pid is gone is dead.
fn release_dead_local_leases(store: &dyn Store) {
    if store.shared() {
        // Other machines' pids mean nothing here: their leases lapse on their own.
        return;
    }
    let host = hostname();
    let owners = match store.lease_owners() {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list lease owners");
            return;
        }
    };
    let dead: HashSet<String> = owners
        .iter()
        .filter_map(|o| dead_local_owner(o, &host))
        .collect();
    for prefix in dead {
        match store.expire_leases(&prefix) {
            Ok(n) => {
                tracing::info!(owner = %prefix, jobs = n, "released the jobs of a dead worker")
            }
            Err(e) => tracing::warn!(owner = %prefix, error = %e, "cannot release leases"),
        }
    }
}

impl Pool {
    /// Start `cfg.worker_count()` worker threads. Fails only when the callback client cannot
    /// be built (an unreadable `callbacks_ca_file`).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        store: Arc<dyn Store>,
        exec: Executor,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
        cfg: Config,
        langs: Arc<Languages>,
        rt: tokio::runtime::Handle,
    ) -> Result<Pool, String> {
        let callbacks = callback_client(&cfg)?;
        if cfg.callbacks_insecure {
            tracing::warn!("callbacks_insecure: https callback certificates are not verified");
        }
        release_dead_local_leases(store.as_ref());
        let id = process_id();
        let stop = Arc::new(AtomicBool::new(false));
        let joined = Arc::new(AtomicBool::new(false));
        let n = cfg.worker_count();
        // Registered before returning: once `serve`/`worker` says it runs, /workers lists it
        // (the keeper thread refreshes the entry from here on).
        if let Err(e) = store.heartbeat(&worker_info(&id, &hostname(), n as i64, 0, 0)) {
            tracing::warn!(error = %e, "cannot register the worker yet");
        }
        let shared = Arc::new(Shared {
            store: store.clone(),
            exec,
            hub: hub.clone(),
            metrics,
            cfg,
            langs,
            stop: stop.clone(),
            joined: joined.clone(),
            running: Mutex::new(HashSet::new()),
            completed: AtomicI64::new(0),
            rt,
            callbacks,
            callback_owner: format!("{id}/{CALLBACKS}"),
            sending: Mutex::new(HashSet::new()),
            callbacks_stop: AtomicBool::new(false),
        });
        let threads = (0..n)
            .map(|i| {
                let sh = shared.clone();
                let owner = format!("{id}/{i}");
                std::thread::Builder::new()
                    .name(format!("runcell-worker-{i}"))
                    .spawn(move || worker_loop(&sh, &owner, i))
                    .map_err(|e| tracing::error!(error = %e, "cannot start worker thread"))
                    .ok()
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        let keeper = {
            let sh = shared.clone();
            let id = id.clone();
            std::thread::Builder::new()
                .name("runcell-lease-keeper".into())
                .spawn(move || keeper_loop(&sh, &id, n as i64))
                .ok()
        };
        tracing::info!(worker = %id, threads = n, "workers started");
        Ok(Pool {
            stop,
            joined,
            threads,
            keeper,
            hub,
            store,
            id,
            shared,
        })
    }

    /// Stop claiming, let running jobs finish, unregister.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.hub.cond.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.joined.store(true, Ordering::SeqCst);
        if let Some(k) = self.keeper.take() {
            let _ = k.join();
        }
        // Callbacks: tries under way may end (each bounded by callbacks_timeout); the ones still
        // pending stay stored and are released, so the next process (or another worker of a
        // shared store) sends them at once instead of after their lease.
        let sh = &self.shared;
        sh.callbacks_stop.store(true, Ordering::SeqCst);
        // At most 5 s: a try cut short is not recorded, so the next process makes it again.
        let until = Instant::now()
            + Duration::from_secs_f64(sh.cfg.callbacks_timeout.clamp(0.1, 4.0))
            + Duration::from_secs(1);
        while sh.sending.lock().map_or(0, |s| s.len()) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        match self.store.expire_leases(&sh.callback_owner) {
            Ok(n) if n > 0 => {
                tracing::info!(callbacks = n, "pending callbacks left to the next process")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot release pending callbacks"),
        }
        if let Err(e) = self.store.unregister(&self.id) {
            tracing::warn!(error = %e, "cannot unregister worker");
        }
        tracing::info!(worker = %self.id, "workers stopped");
    }
}

/// Exponential back-off (100 ms doubling to 5 s, with jitter) while the store fails, logging
/// the first failure and the recovery rather than every attempt.
struct Backoff {
    what: &'static str,
    next: Duration,
    since: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new(what: &'static str) -> Backoff {
        Backoff {
            what,
            next: Backoff::FIRST,
            since: None,
        }
    }

    /// Record a failure; returns how long to wait before the next attempt.
    fn failed(&mut self, e: &StoreError) -> Duration {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::error!(error = %e, "{} failed; retrying with back-off", self.what);
        } else {
            tracing::debug!(error = %e, "{} failed again", self.what);
        }
        let wait = self.next;
        self.next = (self.next * 2).min(Backoff::MAX);
        // Up to +25% so that many workers do not reconnect in lockstep.
        let jitter = (uuid::Uuid::new_v4().as_u128() % 256) as u32;
        wait + wait * jitter / 1024
    }

    /// How long the store has been failing.
    fn failing_for(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    fn succeeded(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                seconds = since.elapsed().as_secs_f64(),
                "{} works again",
                self.what
            );
        }
        self.next = Backoff::FIRST;
    }
}

/// Sleep `d`, waking early when the pool is stopping.
fn nap(sh: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !sh.stop.load(Ordering::SeqCst) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn worker_loop(sh: &Arc<Shared>, owner: &str, slot: usize) {
    let mut seen = 0u64;
    // A shared store has workers elsewhere and no in-process wake-up for their queues: poll.
    let idle = if sh.store.shared() {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(500)
    };
    let mut backoff = Backoff::new("claiming a job");
    while !sh.stop.load(Ordering::SeqCst) {
        match sh
            .store
            .claim(owner, sh.cfg.lease(), sh.cfg.max_attempts.max(1))
        {
            Ok(Some(sub)) => {
                backoff.succeeded();
                run_job(sh, owner, slot, sub);
            }
            Ok(None) => {
                backoff.succeeded();
                sh.hub.wait_for_work(&mut seen, idle);
            }
            Err(e) => {
                let wait = backoff.failed(&e);
                nap(sh, wait);
            }
        }
    }
}

/// Store the result of a run, retrying while the database is unreachable. The job stays in
/// the running set meanwhile, so the keeper extends its lease as soon as the database answers
/// again. `None` when the result could not be stored (the job is run again once its lease
/// lapses).
fn store_result(sh: &Shared, owner: &str, token: &str, result: &RunResult) -> Option<bool> {
    let mut backoff = Backoff::new("storing a result");
    loop {
        match sh.store.finish(token, owner, result) {
            Ok(written) => {
                backoff.succeeded();
                return Some(written);
            }
            Err(e) if e.is_unavailable() => {
                // Shutting down: wait at most one lease, after which the job is another
                // worker's anyway.
                if sh.stop.load(Ordering::SeqCst) && backoff.failing_for() > sh.cfg.lease() {
                    tracing::error!(token = %token, error = %e, "giving up storing a result");
                    return None;
                }
                let wait = backoff.failed(&e);
                std::thread::sleep(wait);
            }
            Err(e) => {
                tracing::error!(token = %token, error = %e, "cannot store result");
                return None;
            }
        }
    }
}

fn run_job(sh: &Arc<Shared>, owner: &str, slot: usize, sub: Submission) {
    let key = (sub.token.clone(), owner.to_string());
    if let Ok(mut r) = sh.running.lock() {
        r.insert(key.clone());
    }
    let started = Instant::now();
    tracing::debug!(token = %sub.token, language = sub.language_id, "run");
    let result = sh.exec.execute(&sub, slot);
    let secs = started.elapsed().as_secs_f64();
    let written = store_result(sh, owner, &sub.token, &result);
    if let Ok(mut r) = sh.running.lock() {
        r.remove(&key);
    }
    match written {
        Some(true) => {
            sh.completed.fetch_add(1, Ordering::Relaxed);
            sh.metrics.run(result.status_id, sub.language_id, secs);
            tracing::info!(
                token = %sub.token,
                language = sub.language_id,
                status = result.status_id,
                seconds = secs,
                "finished"
            );
            sh.hub.finished(&sub.token);
            if sub.callback_url.is_some() {
                // Stored as pending with the result: sent now, or after a restart.
                send_callback(sh, sub.token.clone());
            }
        }
        Some(false) => {
            sh.metrics.lost_lease();
            tracing::warn!(token = %sub.token, "lease lost: the result of this run is dropped");
        }
        None => {}
    }
}

/// The HTTP(S) client of callbacks, built once per pool: each request bounded by
/// `callbacks_timeout`; https verified against the host's CA store (rustls with the native
/// roots) plus `callbacks_ca_file`, or not at all with `callbacks_insecure`. No redirects
/// are followed (a PUT is not replayed to another URL).
pub fn callback_client(cfg: &Config) -> Result<reqwest::Client, String> {
    let timeout = Duration::from_secs_f64(cfg.callbacks_timeout.clamp(0.1, 60.0));
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .use_rustls_tls();
    if let Some(path) = &cfg.callbacks_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("callbacks_ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("callbacks_ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "callbacks_ca_file {}: no PEM certificate in it",
                path.display()
            ));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if cfg.callbacks_insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| format!("callback HTTP client: {e}"))
}

/// Send the pending callback of `token` from a task on the async runtime (a receiver that
/// never answers holds no worker), unless a task of this process already sends it.
fn send_callback(sh: &Arc<Shared>, token: String) {
    let fresh = sh
        .sending
        .lock()
        .map(|mut s| s.insert(token.clone()))
        .unwrap_or(false);
    if fresh {
        let sh2 = sh.clone();
        sh.rt.spawn(async move {
            deliver(&sh2, &token).await;
            if let Ok(mut s) = sh2.sending.lock() {
                s.remove(&token);
            }
        });
    }
}

/// A store call from the async runtime.
async fn store_call<T: Send + 'static>(
    sh: &Arc<Shared>,
    f: impl FnOnce(&dyn Store) -> crate::serve::store::Result<T> + Send + 'static,
) -> Result<T, String> {
    let store = sh.store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// PUT the stored result of `token` to its callback URL until it is delivered or
/// `callbacks_max_tries` tries (counted in the store, across restarts) failed, each try
/// bounded by the client's timeout, waiting a little longer after each failure. Every try is
/// taken in the store first (a lease, so one process sends it at a time) and its outcome
/// recorded there; a process that dies mid-way leaves the callback pending for the next one.
/// A try whose PUT reached the receiver but whose outcome was not recorded (a crash in
/// between) is made again: delivery is at least once.
async fn deliver(sh: &Arc<Shared>, token: &str) {
    let max = i64::from(sh.cfg.callbacks_max_tries.max(1));
    let timeout = Duration::from_secs_f64(sh.cfg.callbacks_timeout.clamp(0.1, 60.0));
    let lease = timeout + Duration::from_secs(5);
    loop {
        if sh.callbacks_stop.load(Ordering::SeqCst) {
            return;
        }
        let (t, o) = (token.to_string(), sh.callback_owner.clone());
        let tries = match store_call(sh, move |s| s.claim_callback(&t, &o, lease, max)).await {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(e) => {
                // The database is away: the callback stays pending; the keeper's sweep
                // takes it up again once the store answers.
                tracing::warn!(token = %token, error = %e, "cannot take a callback");
                return;
            }
        };
        let t = token.to_string();
        let sub = match store_call(sh, move |s| s.get(&t)).await {
            Ok(Some(sub)) => sub,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(token = %token, error = %e, "cannot read a callback's submission");
                return;
            }
        };
        let Some(url) = sub.callback_url.clone() else {
            return;
        };
        let body = sub
            .to_json(DEFAULT_FIELDS, true, &sh.langs)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let attempt = tries + 1;
        let sent = sh
            .callbacks
            .put(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let delivered = match sent {
            Ok(r) if r.status().is_success() => true,
            Ok(r) => {
                tracing::warn!(url = %url, attempt, status = %r.status(), "callback refused");
                false
            }
            Err(e) => {
                // reqwest's message names the request; the cause (refused, timed out, the
                // certificate) is in its sources.
                let mut why = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    why.push_str(&format!(": {s}"));
                    src = s.source();
                }
                tracing::warn!(url = %url, attempt, error = %why, "callback failed");
                false
            }
        };
        let retry_in = Duration::from_millis(200 * attempt.max(1) as u64);
        let (t, o) = (token.to_string(), sh.callback_owner.clone());
        match store_call(sh, move |s| {
            s.callback_tried(&t, &o, delivered, max, retry_in)
        })
        .await
        {
            Ok(true) => tokio::time::sleep(retry_in).await,
            Ok(false) => {
                if !delivered {
                    tracing::warn!(url = %url, token = %token, tries = attempt, "callback given up");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(token = %token, error = %e, "cannot record a callback try");
                return;
            }
        }
    }
}

/// Start sending the pending callbacks nobody sends (left by a stopped or dead process,
/// or by a try that could not reach the store).
fn sweep_callbacks(sh: &Arc<Shared>) -> Result<(), StoreError> {
    if sh.callbacks_stop.load(Ordering::SeqCst) {
        return Ok(());
    }
    for token in sh.store.due_callbacks(64)? {
        send_callback(sh, token);
    }
    Ok(())
}

/// This process's entry in the worker registry.
fn worker_info(id: &str, host: &str, threads: i64, running: i64, completed: i64) -> WorkerInfo {
    WorkerInfo {
        id: id.to_string(),
        hostname: host.to_string(),
        pid: i64::from(std::process::id()),
        threads,
        started_at: String::new(),
        last_seen: String::new(),
        running,
        completed,
        alive: true,
    }
}

fn keeper_loop(sh: &Arc<Shared>, id: &str, threads: i64) {
    let every = (sh.cfg.lease() / 3).max(Duration::from_millis(200));
    let host = hostname();
    let mut last = Instant::now() - every;
    let mut backoff = Backoff::new("renewing leases and the worker heartbeat");
    loop {
        let stopping = sh.stop.load(Ordering::SeqCst);
        if last.elapsed() >= every || stopping {
            last = Instant::now();
            let running: Vec<(String, String)> = sh
                .running
                .lock()
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            let mut failed = None;
            for (token, owner) in &running {
                if let Err(e) = sh.store.extend(token, owner, sh.cfg.lease()) {
                    failed = Some(e);
                }
            }
            let info = worker_info(
                id,
                &host,
                threads,
                running.len() as i64,
                sh.completed.load(Ordering::Relaxed),
            );
            if let Err(e) = sh.store.heartbeat(&info) {
                failed = Some(e);
            }
            if !stopping && let Err(e) = sweep_callbacks(sh) {
                failed = Some(e);
            }
            match failed {
                // Logged once per outage; the next round tries again.
                Some(e) => {
                    backoff.failed(&e);
                }
                None => backoff.succeeded(),
            }
        }
        if stopping {
            let left = sh.running.lock().map_or(0, |r| r.len());
            if left == 0 {
                return;
            }
            // Every worker thread has ended: nothing is running whatever the set says.
            if sh.joined.load(Ordering::SeqCst) {
                tracing::warn!(
                    entries = left,
                    "running set not empty after the workers ended"
                );
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::dead_local_owner;

    #[test]
    fn dead_local_owners_are_recognized_by_host_and_pid() {
        let me = std::process::id();
        // A pid beyond pid_max exists nowhere.
        let gone = 999_999_999u32;
        assert_eq!(
            dead_local_owner(&format!("my-host-{gone}-abcd1234/1"), "my-host").as_deref(),
            Some(format!("my-host-{gone}-abcd1234/").as_str())
        );
        assert_eq!(
            dead_local_owner(&format!("other-{gone}-abcd1234/1"), "my-host"),
            None
        );
        assert_eq!(
            dead_local_owner(&format!("my-host-{me}-abcd1234/0"), "my-host"),
            None
        );
        assert_eq!(
            dead_local_owner("my-host-1-abcd1234/0", "my-host"),
            None,
            "pid 1 lives"
        );
        assert_eq!(
            dead_local_owner(&format!("my-host-{gone}-abcd1234/callbacks"), "my-host").as_deref(),
            Some(format!("my-host-{gone}-abcd1234/").as_str()),
            "a dead process's callback sender"
        );
        assert_eq!(dead_local_owner("w1", "my-host"), None);
        assert_eq!(dead_local_owner("my-host-x-abcd/0", "my-host"), None);
    }
}
