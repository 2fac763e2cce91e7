//! The background reaper: a thread that finishes runs whose outcome is already known.
//!
//! runcell-init reports the program's exit status only once it has killed and reaped every
//! other process of the sandbox, so at that record the run is over: nothing of the program
//! runs any more. What remains is PID 1's own exit and the kernel's teardown of the
//! namespaces (the mount namespace's release waits for an RCU grace period), then the return
//! of the run's cgroup leaf and host ids, which must wait for that teardown. A run hands this
//! tail to a reaper and returns its outcome at once; the reaper thread waits for PID 1 through
//! its pidfd and then drops the leases.
//!
//! One reaper per [`Sandbox`](super::Sandbox) (started by its first run) and one per warm
//! pool. Dropping a reaper joins its thread after every queued reap has run, so once the last
//! clone of a sandbox (or its pool) is gone, nothing of any of its runs is left.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use super::fork;
use crate::error::{Error, Result};

/// The rest of a finished run: wait for PID 1, then release what it held.
pub(crate) type Reap = Box<dyn FnOnce() + Send>;

/// A queue to a `runcell-reap` thread, started on first use.
///
/// The thread belongs to the process that started it: in a forked child (which has no copy of
/// it) the reaper hands out no sender, so the child's runs reap before returning, and its
/// shutdown waits for no thread that is not there. The child never takes the lock a thread of
/// its parent may have held at the fork: the process is claimed (`owner`) before the lock is
/// first taken, and only that process ever takes it.
#[derive(Default)]
pub(crate) struct Reaper {
    /// The process the thread runs in ([`fork::process_key`]; 0: none claimed yet).
    owner: AtomicU64,
    thread: Mutex<Option<(Sender<Reap>, JoinHandle<()>)>>,
}

impl Reaper {
    /// A reaper whose thread runs from now on (a warm pool starts its own at once, so that a
    /// failure to start it fails the pool's creation, not a later job).
    pub(crate) fn started() -> Result<Reaper> {
        let r = Reaper::default();
        r.sender()?;
        Ok(r)
    }

    /// Whether this is a forked child of the process that started the thread.
    fn forked(&self) -> bool {
        let owner = self.owner.load(Ordering::Acquire);
        owner != 0 && owner != fork::process_key()
    }

    /// A sender to the reaper thread, starting the thread if it is not running.
    pub(crate) fn sender(&self) -> Result<Sender<Reap>> {
        let me = fork::process_key();
        match self
            .owner
            .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {}
            Err(owner) if owner == me => {}
            Err(_) => {
                return Err(Error::sys(
                    "reaper thread",
                    std::io::Error::other("started by the parent of this forked process"),
                ));
            }
        }
        let mut t = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((tx, _)) = &*t {
            return Ok(tx.clone());
        }
        let (tx, rx) = std::sync::mpsc::channel::<Reap>();
        let handle = std::thread::Builder::new()
            .name("runcell-reap".into())
            .spawn(move || {
                while let Ok(reap) = rx.recv() {
                    reap();
                }
            })
            .map_err(|e| Error::sys("spawn reaper thread", e))?;
        *t = Some((tx.clone(), handle));
        Ok(tx)
    }

    /// The sender, if the thread runs in this process (it is never started again after
    /// [`Reaper::shutdown`]).
    pub(crate) fn running(&self) -> Option<Sender<Reap>> {
        if self.owner.load(Ordering::Acquire) != fork::process_key() {
            // Never claimed (no thread), or claimed by the parent of this forked process.
            return None;
        }
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        t.as_ref().map(|(tx, _)| tx.clone())
    }

    /// Run every queued reap and stop the thread. Senders still held elsewhere keep it alive
    /// until they are dropped (a run holds one only while it ends). Called from the reaper
    /// thread itself (the last reference dropped by a reap), it only lets the thread end.
    pub(crate) fn shutdown(&self) {
        if self.owner.load(Ordering::Acquire) == 0 {
            // Never started.
            return;
        }
        if self.forked() {
            // The thread is the parent's: nothing to join (and the handle is not this
            // process's to detach).
            if let Ok(mut t) = self.thread.try_lock()
                && let Some((_, handle)) = t.take()
            {
                std::mem::forget(handle);
            }
            return;
        }
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((tx, handle)) = t {
            drop(tx);
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.shutdown();
    }
}
