//! State that belongs to one process: what a forked copy of the host must not share with its
//! parent (DESIGN §3, "A host that forks").
//!
//! `fork()` copies a multi-threaded host's memory but only the calling thread. A lock another
//! thread held at that moment stays held in the child for ever (its holder is not there to
//! release it), and state that describes the parent's resources (its cgroup directories, its
//! threads) describes nothing of the child's. A [`PerProcess`] value is tied to the process
//! that made it: a forked child finds, without taking any lock, that the value it sees is not
//! its own and makes a fresh one, leaving the inherited copy alone (never used, never dropped:
//! its drop could remove the parent's resources, and its content may have been half-updated
//! by a thread of the parent at the fork).
//!
//! A process is told apart by its pid and by a fork count that a `pthread_atfork` child
//! handler increments (so a descendant whose pid happens to be that of a dead ancestor is not
//! taken for it either).

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use crate::sys;

/// How many `fork()`s separate this process from the first one that used runcell (counted
/// by [`forked`] in each child).
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The `pthread_atfork` child handler: async-signal-safe (one atomic increment).
extern "C" fn forked() {
    EPOCH.fetch_add(1, Ordering::Relaxed);
}

/// This process's identity for [`PerProcess`] and the other pid-keyed state: the pid and the
/// fork count, never 0. The fork handler is registered by the first call (without a lock: a
/// thread that loses the race goes on before the winner has registered it, and a fork in
/// between is still told apart by its pid).
pub(crate) fn process_key() -> u64 {
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if !REGISTERED.load(Ordering::Acquire)
        && REGISTERED
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        sys::at_fork_child(forked);
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    (u64::from(pid) << 32) | u64::from(EPOCH.load(Ordering::Relaxed))
}

struct Entry<T> {
    key: u64,
    value: T,
}

/// A value of the current process (see the module documentation): a forked child gets a
/// fresh one from [`PerProcess::get_or_try_init`], found without a lock.
pub(crate) struct PerProcess<T> {
    /// The latest entry made (this process's, or one inherited from an ancestor). Only ever
    /// replaced by a process that does not own it, and an entry replaced is never freed, so
    /// a reference handed out stays valid as long as `self`.
    slot: AtomicPtr<Entry<T>>,
    /// Owns a `T` that any thread may make, read or drop: Send as `T` is, Sync only when
    /// `T` is Send and Sync (as `OnceLock<T>`).
    _owns: PhantomData<std::sync::OnceLock<T>>,
}

impl<T> PerProcess<T> {
    /// Empty: the first [`get_or_try_init`](Self::get_or_try_init) of each process makes its
    /// value.
    pub(crate) const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Holding `value` for the current process.
    pub(crate) fn with(value: T) -> Self {
        let entry = Box::new(Entry {
            key: process_key(),
            value,
        });
        PerProcess {
            slot: AtomicPtr::new(Box::into_raw(entry)),
            _owns: PhantomData,
        }
    }

    /// The current process's value, if it has one.
    pub(crate) fn get(&self) -> Option<&T> {
        let key = process_key();
        // SAFETY: a non-null slot points to an entry freed only by `drop` (&mut self).
        unsafe { self.slot.load(Ordering::Acquire).as_ref() }
            .filter(|e| e.key == key)
            .map(|e| &e.value)
    }

    /// The value this process has, or else the one it inherited (a forked child's copy of an
    /// ancestor's, to read what does not depend on the process, never to change or release
    /// anything through).
    pub(crate) fn latest(&self) -> Option<&T> {
        // SAFETY: as in `get`.
        unsafe { self.slot.load(Ordering::Acquire).as_ref() }.map(|e| &e.value)
    }

    /// The current process's value, made by `init` if it has none (in a forked child: the
    /// first call there). Threads racing to make it keep one; the others' are dropped.
    pub(crate) fn get_or_try_init<E>(&self, init: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        let key = process_key();
        let mut seen = self.slot.load(Ordering::Acquire);
        // SAFETY: as in `get`.
        if let Some(e) = unsafe { seen.as_ref() }
            && e.key == key
        {
            return Ok(&e.value);
        }
        let new = Box::into_raw(Box::new(Entry {
            key,
            value: init()?,
        }));
        loop {
            match self
                .slot
                .compare_exchange(seen, new, Ordering::AcqRel, Ordering::Acquire)
            {
                // `seen` (null, or an ancestor's entry) is left as it is: never freed.
                // SAFETY: `new` is published and freed only by `drop`.
                Ok(_) => return Ok(unsafe { &(*new).value }),
                Err(now) => {
                    // SAFETY: as in `get`.
                    if let Some(e) = unsafe { now.as_ref() }
                        && e.key == key
                    {
                        // Another thread of this process made one first.
                        // SAFETY: `new` came from Box::into_raw and was never published.
                        drop(unsafe { Box::from_raw(new) });
                        return Ok(&e.value);
                    }
                    seen = now;
                }
            }
        }
    }

    /// [`get_or_try_init`](Self::get_or_try_init) with an infallible `init`.
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, std::convert::Infallible>(init())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }
}

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Drop for PerProcess<T> {
    /// Drops the value only in the process that made it; an inherited one is leaked.
    fn drop(&mut self) {
        let p = *self.slot.get_mut();
        // SAFETY: a non-null slot points to a live entry (freed only here).
        if let Some(e) = unsafe { p.as_ref() }
            && e.key == process_key()
        {
            // SAFETY: `p` came from Box::into_raw and nothing else frees it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// Run `child` in a forked copy of this process (its exit status: 0 when it returned true)
/// and wait for it, at most `secs` seconds (SIGALRM ends a child that hangs). Test helper.
#[cfg(test)]
pub(crate) fn in_forked_child(secs: u32, child: impl FnOnce() -> bool) -> libc::c_int {
    // SAFETY: the child runs library code (glibc makes malloc usable after fork) and leaves
    // with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: a hang ends the child instead of the test run.
        unsafe { libc::alarm(secs) };
        // A panic must not unwind into the test harness's thread: it would end, and with it
        // the child's only thread, with exit status 0.
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(_) => 3,
        };
        // SAFETY: ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The point of it: a lock a thread of the parent holds at the fork is not the child's.
    /// (A plain static Mutex here leaves the child waiting on it until SIGALRM.)
    #[test]
    fn a_forked_child_never_waits_on_its_parents_lock() {
        static STATE: PerProcess<Mutex<u32>> = PerProcess::new();
        *STATE.get_or_init(|| Mutex::new(0)).lock().unwrap() = 7;
        let (held, hold) = std::sync::mpsc::channel::<()>();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _g = STATE.get_or_init(|| Mutex::new(0)).lock().unwrap();
            held.send(()).unwrap();
            let _ = finish.recv();
        });
        hold.recv().unwrap();
        let status = in_forked_child(20, || {
            let fresh = STATE.get_or_init(|| Mutex::new(1));
            let ok = *fresh.lock().unwrap() == 1 && STATE.latest().is_some();
            // The second call finds the child's own.
            ok && std::ptr::eq(fresh, STATE.get_or_init(|| Mutex::new(2)))
        });
        done.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(
            status, 0,
            "the child waited on the parent's lock or saw its state"
        );
        assert_eq!(*STATE.get().unwrap().lock().unwrap(), 7);
    }

    /// A value is dropped by the process that made it only: a forked child's drop of an
    /// inherited one does nothing.
    #[test]
    fn only_the_owner_drops() {
        struct Loud(std::sync::Arc<std::sync::atomic::AtomicU32>);
        impl Drop for Loud {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = std::sync::Arc::new(AtomicU32::new(0));
        let inherited = PerProcess::with(Loud(drops.clone()));
        let counter = drops.clone();
        let status = in_forked_child(20, move || {
            drop(inherited);
            let own = PerProcess::with(Loud(counter.clone()));
            let before = counter.load(Ordering::SeqCst);
            drop(own);
            before == 0 && counter.load(Ordering::SeqCst) == 1
        });
        assert_eq!(status, 0);
    }

    /// What finding the current process's value costs (a run does it about six times: the
    /// launcher pool, two windows, the cgroup pool, its lease, the reaper), measured, not
    /// asserted. `cargo test --lib fork::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost() {
        static V: PerProcess<u64> = PerProcess::new();
        let n = 1_000_000u32;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(V.get_or_init(|| 1));
        }
        println!("PerProcess::get_or_init: {:?}", t.elapsed() / n);
    }

    #[test]
    fn a_forked_child_has_another_key() {
        let parent = process_key();
        let status = in_forked_child(20, move || {
            let k = process_key();
            k != parent && k >> 32 != parent >> 32 && (k & 0xffff_ffff) > (parent & 0xffff_ffff)
        });
        assert_eq!(status, 0);
        assert_eq!(process_key(), parent);
    }
}
