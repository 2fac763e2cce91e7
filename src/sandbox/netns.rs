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
//!   copy of the host never uses the pool of its parent (the queue is keyed by the process, see `fork`) and
//!   holds none of its descriptors (closed by a `pthread_atfork` child handler).
//! - The namespace belongs to the host's user namespace, not to the sandbox's: the sandbox
//!   has no capability over it at all (no interface, address, route or sysctl change, even
//!   from its setup process). Loopback, when asked for, is brought up by the pool thread.
//! - No namespace ready (the first run of a kind, or a burst): the clone makes its own with
//!   `CLONE_NEWNET`, as an unprivileged host always does (a namespace of the host's user
//!   namespace cannot be joined from the sandbox's).

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, Once};
use std::time::Duration;

use super::fork::process_key;
use crate::sys;

/// Namespaces kept ready per kind (loopback down, loopback up).
const DEPTH: usize = 2;

/// Slots for the descriptors of pool namespaces open in this process (ready, or taken and not
/// yet closed): at most `2 * DEPTH` ready plus one per launch under way.
const SLOTS: usize = 64;

/// The descriptor numbers of this process's pool namespaces (-1: free). A forked copy of the
/// process closes every one of them in its `pthread_atfork` child handler (lock-free, only
/// `close`), so it holds no reference to a namespace the parent hands to a sandbox. A slot is
/// cleared before its descriptor is closed, so the handler never closes a reused number.
static OPEN: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// Runs in the child of a `fork()` of the host: async-signal-safe (atomics and `close`).
extern "C" fn close_inherited() {
    for slot in &OPEN {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            sys::close(fd);
        }
    }
}

/// A pool namespace's descriptor, registered in [`OPEN`] for as long as it is open.
pub(crate) struct PoolNs {
    fd: RawFd,
    slot: usize,
}

impl PoolNs {
    /// Register `fd`; `None` (the descriptor closed) when every slot is taken.
    fn register(fd: OwnedFd) -> Option<PoolNs> {
        let raw = fd.as_raw_fd();
        let slot = OPEN.iter().position(|s| {
            s.compare_exchange(-1, raw, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        })?;
        std::mem::forget(fd);
        Some(PoolNs { fd: raw, slot })
    }
}

impl AsRawFd for PoolNs {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl Drop for PoolNs {
    fn drop(&mut self) {
        // Unregistered first: a fork from now on must not close this number (it may be
        // reused as soon as it is closed).
        let _ = OPEN[self.slot].compare_exchange(self.fd, -1, Ordering::AcqRel, Ordering::Acquire);
        sys::close(self.fd);
    }
}

struct Pool {
    /// The process it belongs to ([`process_key`]).
    pid: u64,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Ready namespaces: `[loopback down, loopback up]`.
    ready: [VecDeque<PoolNs>; 2],
    /// How many of each kind to keep ready (0 until a sandbox wanted that kind).
    want: [usize; 2],
    /// This process may not make them (EPERM) or the pool thread could not return to its own
    /// namespace: no more are made in this process (runs clone their own).
    failed: bool,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The current process's pool, found without a lock (a `fork()` taken while another thread
/// held a lock must not deadlock the child). One per process, never freed: a forked child
/// makes its own (the queue is keyed by the process, see `fork`) and leaves its parent's copy alone, whose
/// descriptors the fork handler has closed.
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

/// The process's pool (a new one after fork); `None` when the host is not root or the pool
/// thread cannot be started.
fn pool() -> Option<&'static Pool> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    register_fork_handler();
    let pid = process_key();
    let current = POOL.load(Ordering::Acquire);
    // SAFETY: a non-null POOL points to a leaked Box, never freed.
    if let Some(p) = unsafe { current.as_ref() }
        && p.pid == pid
    {
        return Some(p);
    }
    let new = Box::into_raw(Box::new(Pool {
        pid,
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
    }));
    if POOL
        .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // SAFETY: `new` came from Box::into_raw above and was never published.
        drop(unsafe { Box::from_raw(new) });
        // Another thread installed this process's pool meanwhile.
        // SAFETY: as above.
        return unsafe { POOL.load(Ordering::Acquire).as_ref() }.filter(|p| p.pid == pid);
    }
    // SAFETY: published and never freed from now on.
    let p: &'static Pool = unsafe { &*new };
    if std::thread::Builder::new()
        .name("runcell-netns".into())
        .spawn(move || fill(p))
        .is_err()
    {
        p.lock().failed = true;
        return None;
    }
    Some(p)
}

/// A network namespace being made for the one run of a `single_run` sandbox (the CLI), on a
/// thread of its own started by `build()`, so that its cost overlaps the rest of the build
/// instead of adding to the launch's clone. The same kind of namespace as the pool's (the
/// host's user namespace owns it, loopback up when asked, registered in [`OPEN`]), handed
/// to at most one launch, which waits for it: a single run would otherwise most often find
/// the pool empty. A forked copy of the host never waits for it (the thread is its
/// parent's) and clones its own.
pub(crate) struct Ahead {
    /// The process that made it ([`process_key`]).
    pid: u64,
    maker: Mutex<Option<std::thread::JoinHandle<Option<PoolNs>>>>,
}

impl Ahead {
    /// Start making one (root hosts only; `None` elsewhere or when no thread can start).
    pub(crate) fn start(loopback: bool) -> Option<Ahead> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        register_fork_handler();
        let maker = std::thread::Builder::new()
            .name("runcell-netns".into())
            .stack_size(64 << 10)
            .spawn(move || {
                let _ = sys::block_all_signals();
                // This thread only, and it ends right after: no need to go back home.
                sys::unshare(libc::CLONE_NEWNET).ok()?;
                let ns = own_netns().ok()?;
                if loopback {
                    sys::loopback_up().ok()?;
                }
                PoolNs::register(ns)
            })
            .ok()?;
        Some(Ahead {
            pid: process_key(),
            maker: Mutex::new(Some(maker)),
        })
    }

    /// The namespace, once made (waits for the thread); `None` after the first call, in a
    /// forked copy of the host, or when making it failed: the clone then makes its own.
    pub(crate) fn take(&self) -> Option<PoolNs> {
        if self.pid != process_key() {
            return None;
        }
        let maker = self
            .maker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        maker.join().ok().flatten()
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        let maker = self
            .maker
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if self.pid != process_key() {
            // A forked copy: the thread is not there to be joined (its descriptor was closed
            // by the fork handler).
            std::mem::forget(maker);
        }
        // Otherwise dropping the handle detaches the thread; its namespace is closed when
        // it ends.
    }
}

fn register_fork_handler() {
    static ATFORK: Once = Once::new();
    ATFORK.call_once(|| sys::at_fork_child(close_inherited));
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
pub(crate) fn take(loopback: bool) -> Option<PoolNs> {
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

/// Why making a namespace failed.
enum MakeError {
    /// Not permitted here, or the thread could not go back home: stop for good.
    Fatal,
    /// Anything else (memory, a namespace limit during a burst, no free slot): retry later.
    Transient,
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
    let mut backoff = Duration::from_millis(50);
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
            Ok(ns) => {
                backoff = Duration::from_millis(50);
                pool.lock().ready[kind].push_back(ns);
            }
            Err(MakeError::Transient) => {
                // Runs clone their own meanwhile.
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(MakeError::Fatal) => {
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

/// Make one namespace on this thread and come back to `home`. Fatal when this process may
/// not make one or the thread cannot come back (it must then end, see `fill`).
fn make(loopback: bool, home: RawFd) -> Result<PoolNs, MakeError> {
    let classify = |e: sys::Errno| {
        if e == libc::EPERM {
            MakeError::Fatal
        } else {
            MakeError::Transient
        }
    };
    sys::unshare(libc::CLONE_NEWNET).map_err(classify)?;
    let made = own_netns().map_err(classify).and_then(|ns| {
        if loopback {
            sys::loopback_up().map_err(classify)?;
        }
        PoolNs::register(ns).ok_or(MakeError::Transient)
    });
    if sys::setns(home, libc::CLONE_NEWNET).is_err() {
        return Err(MakeError::Fatal);
    }
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
    pub(crate) fn enter(ns: &PoolNs) -> Option<Joined> {
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

    fn inode(fd: &impl AsRawFd) -> u64 {
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

    /// Whether `lo` is up in this thread's network namespace.
    fn loopback_is_up() -> bool {
        // SAFETY: plain socket call.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket");
        // SAFETY: ifreq is plain old data; zeroed is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: req is a valid ifreq for SIOCGIFFLAGS.
        let r = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) };
        sys::close(fd);
        assert_eq!(r, 0, "SIOCGIFFLAGS");
        // SAFETY: the union member SIOCGIFFLAGS filled in.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        flags & libc::IFF_UP as libc::c_short != 0
    }

    /// Root only: a namespace made ahead for a single run is a new one (not the host's, not
    /// the calling thread's), with loopback as asked, handed out once; the thread that made
    /// it is gone and the caller never left its own namespace.
    #[test]
    fn a_namespace_made_ahead_is_fresh_and_handed_out_once() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let host = thread_netns();
        let mut seen = std::collections::BTreeSet::new();
        for loopback in [false, true] {
            let ahead = Ahead::start(loopback).expect("a thread for the namespace");
            let ns = ahead.take().expect("a namespace");
            assert!(ahead.take().is_none(), "handed out twice");
            let ino = inode(&ns);
            assert_ne!(ino, host);
            assert!(seen.insert(ino), "the same namespace twice");
            assert_eq!(thread_netns(), host);
            {
                let _j = Joined::enter(&ns).expect("join");
                assert_eq!(thread_netns(), ino);
                assert_eq!(loopback_is_up(), loopback);
            }
            assert_eq!(thread_netns(), host);
            // Kept open: the kernel may not hand out the inode of a live namespace again.
            std::mem::forget(ns);
        }
    }

    /// Root only: a forked copy of the host holds no descriptor of a pool namespace (the
    /// fork handler closed them), so it keeps no reference to a namespace the parent hands
    /// to a sandbox later.
    #[test]
    fn a_forked_child_holds_no_pool_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let host = thread_netns();
        prepare(false);
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while OPEN.iter().all(|s| s.load(Ordering::Acquire) < 0) {
            assert!(
                std::time::Instant::now() < give_up,
                "the pool never made a namespace"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Every network-namespace descriptor of this process other than the host's.
        let foreign = || -> usize {
            std::fs::read_dir("/proc/self/fd")
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| std::fs::read_link(e.path()).ok())
                        .filter(|l| {
                            let l = l.to_string_lossy();
                            l.starts_with("net:[") && l != format!("net:[{host}]")
                        })
                        .count()
                })
                .unwrap_or(0)
        };
        assert!(foreign() >= 1, "the parent holds its ready namespaces");
        // SAFETY: the child only reads /proc (glibc makes malloc usable after fork) and
        // leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let code = if foreign() == 0 { 0 } else { 1 };
            // SAFETY: ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the forked child still held a pool namespace (status {status:#x})"
        );
        assert!(foreign() >= 1, "the parent's own are untouched");
    }
}
