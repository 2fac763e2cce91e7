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
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use crate::error::{Error, Result};

/// The rest of a finished run: wait for PID 1, then release what it held.
pub(crate) type Reap = Box<dyn FnOnce() + Send>;

/// A queue to a `runcell-reap` thread, started on first use.
#[derive(Default)]
pub(crate) struct Reaper {
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

    /// A sender to the reaper thread, starting the thread if it is not running.
    pub(crate) fn sender(&self) -> Result<Sender<Reap>> {
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

    /// The sender, if the thread runs (it is never started again after [`Reaper::shutdown`]).
    pub(crate) fn running(&self) -> Option<Sender<Reap>> {
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        t.as_ref().map(|(tx, _)| tx.clone())
    }

    /// Run every queued reap and stop the thread. Senders still held elsewhere keep it alive
    /// until they are dropped (a run holds one only while it ends). Called from the reaper
    /// thread itself (the last reference dropped by a reap), it only lets the thread end.
    pub(crate) fn shutdown(&self) {
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
