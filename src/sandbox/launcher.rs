//! Launcher threads: every sandbox of this process is started from one of a few threads that
//! live as long as the process.
//!
//! Two reasons. The parent-death signal that ties a sandbox to its host fires when the *thread*
//! that created it exits, not the process: a sandbox started from a short-lived thread (a
//! request handler, a runtime's blocking pool) would be killed when that thread ends, although
//! `Child` is `Send`. And the setup process runs on the launching thread's TLS until it execs
//! runcell-init, so that thread must be blocked, with every signal blocked, for the whole
//! launch: never a runtime thread of an async host, never a thread whose signal handlers the
//! host relies on. Launcher threads keep every signal blocked for their whole life.
//!
//! A host that forks gets a fresh pool in the child process (threads do not survive fork),
//! found without taking a lock of the parent's.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use super::fork::PerProcess;
use crate::error::{Error, Result};
use crate::sys;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    pid: u32,
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

fn pool() -> Result<Arc<Pool>> {
    // Per process (see `fork`): a fork taken while another thread held this lock must not
    // leave the child waiting on it.
    static POOL: PerProcess<Mutex<Option<Arc<Pool>>>> = PerProcess::new();
    let mut current = POOL
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some(p) = current.as_ref()
        && p.pid == pid
    {
        return Ok(p.clone());
    }
    let p = Arc::new(Pool {
        pid,
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    // Launching is CPU work in the kernel (namespaces, mounts): one thread per core, at most 8.
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    for _ in 0..n {
        let worker = p.clone();
        std::thread::Builder::new()
            .name("runcell-launch".into())
            .spawn(move || serve(&worker))
            .map_err(|e| Error::sys("spawn launcher thread", e))?;
    }
    *current = Some(p.clone());
    Ok(p)
}

fn serve(pool: &Pool) {
    // For life: no host signal handler ever runs on this thread (or in a setup process that
    // borrows its TLS).
    let _ = sys::block_all_signals();
    loop {
        let job = {
            let mut q = pool.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(job) = q.pop_front() {
                    break job;
                }
                q = pool.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A thread that joined a template has its own root, working directory and umask:
        // the process's current ones again, which a launch (the program's umask, a path the
        // job resolves) must see.
        crate::sandbox::rootfs::template::resync_fs();
        // A panic in a launch is a bug, but must not take the launcher down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

fn submit(job: Job) -> Result<()> {
    let p = pool()?;
    p.queue
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(job);
    p.ready.notify_one();
    Ok(())
}

fn lost() -> Error {
    Error::sys(
        "launcher thread",
        std::io::Error::other("the launch panicked (a runcell bug)"),
    )
}

/// Run `f` on a launcher thread and wait for its result.
pub(crate) fn call<R: Send + 'static>(f: impl FnOnce() -> Result<R> + Send + 'static) -> Result<R> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    submit(Box::new(move || {
        let _ = tx.send(f());
    }))?;
    rx.recv().map_err(|_| lost())?
}

/// Run `f` on a launcher thread; the future resolves with its result. Dropping the future
/// drops the result on the launcher thread when it arrives (a started sandbox is then killed
/// and reaped there).
#[cfg(feature = "tokio")]
pub(crate) async fn call_async<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    submit(Box::new(move || {
        let _ = tx.send(f());
    }))?;
    rx.await.map_err(|_| lost())?
}
