//! Network namespaces made ahead of time for a root host (DESIGN §3, step 1).
//!
//! Creating a network namespace is the largest single kernel cost of a sandbox's clone (every
//! network subsystem initialises its per-namespace state). A root host makes them on a
//! background thread instead: `unshare(CLONE_NEWNET)`, loopback brought up when the profile
//! wants it, the namespace kept as an open `/proc/thread-self/ns/net` descriptor, and the
//! thread back in its own namespace. A launch takes one, joins it with `setns` on the launcher
//! thread (a per-thread change), clones WITHOUT `CLONE_NEWNET` (the setup process inherits it),
//! and returns the launcher thread to its own namespace right after the clone; the
//! descriptor is closed then, so the sandbox's processes hold the only references.
//!
//! Properties:
//! - Each namespace is handed out once (popped from the queue under the lock) and its
//!   descriptor closed after that clone: never reused, never shared by two runs. A forked
//!   copy of the host never uses the pool of its parent (the queue is keyed by pid).
//! - The namespace belongs to the host's user namespace, not to the sandbox's: the sandbox
//!   has no capability over it at all (no interface, address, route or sysctl change, even
//!   from its setup process). Loopback, when asked for, is brought up by the pool thread.
//! - No namespace ready (the first run of a kind, or a burst): the clone makes its own with
//!   `CLONE_NEWNET`, as an unprivileged host always does (a namespace of the host's user
//!   namespace cannot be joined from the sandbox's).

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::sys;

/// Namespaces kept ready per kind (loopback down, loopback up).
const DEPTH: usize = 2;

struct Pool {
    pid: u32,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Ready namespaces: `[loopback down, loopback up]`.
    ready: [VecDeque<OwnedFd>; 2],
    /// How many of each kind to keep ready (0 until a sandbox wanted that kind).
    want: [usize; 2],
    /// Making one failed: no more are made in this process (runs clone their own).
    failed: bool,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's pool (a new one after fork); `None` when the host is not root or the pool
/// thread cannot be started.
fn pool() -> Option<Arc<Pool>> {
    static POOL: Mutex<Option<Arc<Pool>>> = Mutex::new(None);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let mut current = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    match current.as_ref() {
        Some(p) if p.pid == pid => return Some(p.clone()),
        // Inherited through fork: the parent hands out the same namespaces, so none of them
        // may be used here. Leaked, not dropped: its lock may have been held at the fork.
        Some(_) => std::mem::forget(current.take()),
        None => {}
    }
    let p = Arc::new(Pool {
        pid,
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
    });
    let worker = p.clone();
    std::thread::Builder::new()
        .name("runcell-netns".into())
        .spawn(move || fill(&worker))
        .ok()?;
    *current = Some(p.clone());
    Some(p)
}

/// Start keeping namespaces of this kind ready (a sandbox that will want them was built).
pub(crate) fn prepare(loopback: bool) {
    if let Some(p) = pool() {
        let mut st = p.lock();
        if !st.failed && st.want[usize::from(loopback)] == 0 {
            st.want[usize::from(loopback)] = DEPTH;
            drop(st);
            p.wake.notify_one();
        }
    }
}

/// A ready namespace of this kind, handed out once; `None` when there is none (the clone then
/// makes its own).
pub(crate) fn take(loopback: bool) -> Option<OwnedFd> {
    let p = pool()?;
    let k = usize::from(loopback);
    let mut st = p.lock();
    if st.failed {
        return None;
    }
    st.want[k] = DEPTH;
    let ns = st.ready[k].pop_front();
    drop(st);
    p.wake.notify_one();
    ns
}

/// The pool thread: keep `want` namespaces of each kind ready.
fn fill(pool: &Pool) {
    let _ = sys::block_all_signals();
    let home = match own_netns() {
        Ok(fd) => fd,
        Err(_) => {
            pool.lock().failed = true;
            return;
        }
    };
    loop {
        let kind = {
            let mut st = pool.lock();
            loop {
                if let Some(k) = (0..2).find(|&k| st.ready[k].len() < st.want[k]) {
                    break k;
                }
                st = pool.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        match make(kind == 1, home.as_raw_fd()) {
            Ok(ns) => pool.lock().ready[kind].push_back(ns),
            Err(_) => {
                // Runs clone their own from now on; this thread ends (and with it any
                // reference it still holds to a namespace it made).
                let mut st = pool.lock();
                st.failed = true;
                st.ready = Default::default();
                return;
            }
        }
    }
}

/// A descriptor of the calling thread's network namespace.
fn own_netns() -> sys::SysResult<OwnedFd> {
    let fd = sys::open(c"/proc/thread-self/ns/net", libc::O_RDONLY, 0)?;
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Make one namespace on this thread and come back to `home`. An error when the thread cannot
/// come back (it must then end, see `fill`).
fn make(loopback: bool, home: RawFd) -> sys::SysResult<OwnedFd> {
    sys::unshare(libc::CLONE_NEWNET)?;
    let made = own_netns().and_then(|ns| {
        if loopback {
            sys::loopback_up()?;
        }
        Ok(ns)
    });
    sys::setns(home, libc::CLONE_NEWNET)?;
    made
}

thread_local! {
    /// The launcher thread's own network namespace, opened on its first pooled launch (it is
    /// in it then: a thread is elsewhere only inside a [`Joined`], which always returns).
    static HOME: OnceCell<Option<OwnedFd>> = const { OnceCell::new() };
}

/// The calling thread inside a pool namespace, for one clone; back home on drop.
pub(crate) struct Joined {
    home: RawFd,
}

impl Joined {
    /// Join `ns` on this thread. `None` (nothing changed) when the thread's own namespace
    /// cannot be kept open or `ns` cannot be joined: the launch then clones its own.
    pub(crate) fn enter(ns: &OwnedFd) -> Option<Joined> {
        let home = HOME.with(|h| {
            h.get_or_init(|| own_netns().ok())
                .as_ref()
                .map(AsRawFd::as_raw_fd)
        })?;
        sys::setns(ns.as_raw_fd(), libc::CLONE_NEWNET).ok()?;
        Some(Joined { home })
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        // A launcher thread left in a sandbox's namespace would share it with the next clone
        // that joins nothing (none does, but nothing may rely on that): it must not go on.
        if sys::setns(self.home, libc::CLONE_NEWNET).is_err() {
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inode(fd: &OwnedFd) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0)
    }

    fn thread_netns() -> u64 {
        std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0)
    }

    /// Root only: every namespace handed out is a new one, none is the host's, and joining
    /// one changes this thread alone and only until the guard is dropped.
    #[test]
    fn namespaces_are_fresh_and_joined_per_thread() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let host = thread_netns();
        prepare(true);
        let mut seen = std::collections::BTreeSet::new();
        let mut taken = 0;
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while taken < 6 && std::time::Instant::now() < give_up {
            let Some(ns) = take(true) else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            taken += 1;
            let ino = inode(&ns);
            assert_ne!(ino, host);
            assert!(seen.insert(ino), "namespace {ino} handed out twice");
            // Another thread, started before the join (a thread started by a joined one
            // starts in the same namespace as it).
            let (ask, asked) = std::sync::mpsc::channel::<()>();
            let other = std::thread::spawn(move || {
                let _ = asked.recv();
                thread_netns()
            });
            {
                let _j = Joined::enter(&ns).expect("join");
                assert_eq!(thread_netns(), ino);
                // Other threads stay where they are.
                ask.send(()).unwrap();
                assert_eq!(other.join().unwrap(), host);
            }
            assert_eq!(thread_netns(), host);
            // Kept open: the kernel may not hand out the inode of a live namespace again.
            std::mem::forget(ns);
        }
        assert_eq!(taken, 6, "the pool never made a namespace");
    }
}
