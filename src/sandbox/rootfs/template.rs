//! The template mount namespace of a root plan (root hosts, DESIGN §3 step 1).
//!
//! Copying the host's mount tree into each run's namespace, pivoting into a new tmpfs, detaching
//! the host's root (an expedited RCU grace period per run) and rebuilding the same static root
//! every time is most of a cold run's setup. A root host instead builds the static part once
//! per `Sandbox`, at its first run, in a mount namespace of its own (the *template*): the
//! read-only root tmpfs, the read-only binds, the generated `/etc` files, the symlinks, the
//! read-only `/dev` with its nodes, and the mount points of everything a run makes itself. Its
//! `/proc` is a procfs of a PID namespace that died before the mount was attached (no process
//! is listed there, ever): a run's fresh `/proc` can only be mounted in a user namespace when a
//! fully visible procfs is already in its mount namespace (the kernel's `mount_too_revealing`).
//!
//! A launch joins the template on its launcher thread (`setns`, a per-thread change once the
//! thread's `fs_struct` is its own), clones the setup process with `CLONE_NEWNS` (its namespace
//! is a private copy of the small template, every mount locked, as the new user namespace is
//! less privileged than the template's owner), and goes back to the host's namespace, root
//! and working directory right after. The setup process then only adds the per-run layers
//! ([`RootPlan::per_run`]).
//!
//! Properties:
//! - Nothing in the template is writable: the root tmpfs and `/dev` are read-only, every bind
//!   is a read-only one (a plan with a read-write bind has no template), device nodes write to
//!   their devices. In a run's copy the read-only flags are locked and the mounts cannot be
//!   taken apart; a run cannot change the template itself (it is not in its namespace).
//! - A plan whose per-run layers hold a bind (its source is a host path, which the copy cannot
//!   reach) has no template, nor does a run with mounts of its own (a `Command`'s binds, a warm
//!   cell's job directory): those build their root from the host's as before.
//! - Only a root host builds or joins one (an unprivileged host cannot `setns` into a mount
//!   namespace from a multithreaded process); a forked copy of the host never joins its
//!   parent's (the template is tied to the pid that first asked for it, claimed before the
//!   slot's lock is first taken: a fork never waits on a lock its parent's thread held).
//! - The template is made when the first run needs it, and again when a bind source was
//!   replaced or mounted over since (checked before each join). A failure to make it is not an
//!   error, but turns the template off for that sandbox: every later run takes the path without
//!   a template.
//! - Concurrent runs cloned from one template share its inodes (the generated `/etc` files, the
//!   directories, the mount points): read-only, but a lock or an inotify watch on one is seen
//!   by the others, as on any read-only bind of a host directory.

use std::cell::OnceCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::plan::RootPlan;
use crate::sandbox::fork::process_key;
use crate::sys;

/// A plan's template (see the module documentation): made by the first run that needs it,
/// made again when a bind source is no longer the entry it was made from.
#[derive(Default)]
pub(crate) struct Slot {
    current: Mutex<Option<Arc<Template>>>,
    /// The process this slot belongs to ([`process_key`]; 0: none yet), claimed before the lock is first
    /// taken: the lock is only ever taken by that process, so a forked copy of the host
    /// (whose lock another thread may have held at the fork, making the first template)
    /// never waits on it.
    maker: AtomicU64,
    /// Making one failed: this plan's runs build their root from the host's.
    failed: AtomicBool,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("maker", &self.maker.load(Ordering::Relaxed))
            .field("failed", &self.failed.load(Ordering::Relaxed))
            .finish()
    }
}

/// A template mount namespace, held as an nsfs descriptor.
pub(crate) struct Template {
    ns: OwnedFd,
    /// What each bind source was (`sys::entry_id`) when it was opened for this template, read
    /// on the descriptor its tree was cloned from.
    sources: Vec<[u64; 3]>,
}

/// The identity of every bind source of `plan` as it is now; `None` when one cannot be read.
fn source_ids(plan: &RootPlan) -> Option<Vec<[u64; 3]>> {
    plan.sources
        .iter()
        .map(|s| sys::entry_id(&s.path).ok())
        .collect()
}

impl Slot {
    /// The template to clone this run from, made now if there is none or the one there is
    /// stale (a bind source was replaced or mounted over since: a run always binds what is at
    /// the source path when it starts, as without a template). `None`: the plan cannot use
    /// one, this host is not root, this process is a fork of the one that made it, a source
    /// cannot be read (the run reports it), or making one failed.
    pub(crate) fn get(&self, plan: &RootPlan) -> Option<Arc<Template>> {
        plan.per_run.as_ref()?;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 || self.failed.load(Ordering::Acquire) {
            return None;
        }
        let me = process_key();
        match self
            .maker
            .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {}
            Err(owner) if owner == me => {}
            Err(_) => return None,
        }
        let ids = source_ids(plan)?;
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cur.as_ref()
            && t.sources == ids
        {
            return Some(t.clone());
        }
        match make(plan) {
            Ok(t) => {
                let t = Arc::new(t);
                *cur = Some(t.clone());
                Some(t)
            }
            Err(_) => {
                *cur = None;
                self.failed.store(true, Ordering::Release);
                None
            }
        }
    }
}

/// Build the template on a thread of its own (its mount namespace and root change; the thread
/// then ends, the descriptor keeps the namespace).
fn make(plan: &RootPlan) -> Result<Template, (crate::sandbox::child::Step, sys::Errno, u32)> {
    let step = crate::sandbox::child::Step::Root;
    let (fds, ids, ns, built) = std::thread::scope(|s| {
        s.spawn(|| {
            // The sources first, in the host's namespace: their ids (device, inode, mount id)
            // are read on the very descriptors the trees are cloned from, comparable with
            // what `get` reads on the host's paths later (a mount id in a copy of the host's
            // namespace would be another). Each tree is private as soon as it is cloned.
            let mut fds = vec![-1; plan.sources.len()];
            let mut ids = vec![[0; 3]; plan.sources.len()];
            let mut ns: RawFd = -1;
            let built =
                super::apply::open_sources_noting(plan, &mut fds, Some(&mut ids)).and_then(|()| {
                    sys::unshare(libc::CLONE_FS | libc::CLONE_NEWNS).map_err(|e| (step, e, 0))?;
                    // The template's files and directories belong to host root (`nobody` in a
                    // run): their modes are the plan's (0755 / 0644), whatever the host's
                    // umask is.
                    sys::umask(0o022);
                    // This namespace is a full copy of the host's, shared mounts still peers
                    // of the host's (a systemd host's `/` is shared): private before anything
                    // is mounted in it.
                    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
                        .map_err(|e| (crate::sandbox::child::Step::MountPrivate, e, 0))?;
                    ns = sys::open(
                        c"/proc/thread-self/ns/mnt",
                        libc::O_RDONLY | libc::O_CLOEXEC,
                        0,
                    )
                    .map_err(|e| (step, e, 0))?;
                    // From here the descriptors this thread opens are in a table of its own
                    // (dropped when it ends): a fork or spawn of the host meanwhile copies none
                    // of them. One held open for writing on the root tmpfs by such a child
                    // would make the read-only remount fail (EBUSY), and the template with it.
                    // The source trees and `ns` are in both tables: closed in the process's
                    // by the caller.
                    sys::unshare(libc::CLONE_FILES).map_err(|e| (step, e, 0))?;
                    super::apply::build_template(plan, &fds)
                });
            (fds, ids, ns, built)
        })
        .join()
        .unwrap_or((Vec::new(), Vec::new(), -1, Err((step, libc::EINVAL, 0))))
    });
    for fd in fds.into_iter().filter(|&fd| fd >= 0) {
        sys::close(fd);
    }
    // SAFETY: a descriptor of the process's table that the builder opened, owned by nothing
    // else (its copy in the builder's own table ended with the builder).
    let ns = (ns >= 0).then(|| unsafe { OwnedFd::from_raw_fd(ns) });
    built?;
    Ok(Template {
        ns: ns.ok_or((step, libc::EBADF, 0))?,
        sources: ids,
    })
}

/// The mount namespace of the launcher threads (they are all started together, from one
/// thread), which a launcher thread goes back to after each clone from a template: one
/// descriptor for the process, opened by the first join. `None`: it cannot be opened, no
/// thread joins a template.
static HOME: OnceLock<Option<OwnedFd>> = OnceLock::new();

thread_local! {
    /// This thread's `fs_struct` is its own (`setns(CLONE_NEWNS)` needs a root and working
    /// directory this thread alone uses): unshared at its first join, `false` if that failed.
    static OWN_FS: OnceCell<bool> = const { OnceCell::new() };
}

fn home() -> Option<RawFd> {
    HOME.get_or_init(|| {
        let ns = sys::open(
            c"/proc/thread-self/ns/mnt",
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
        .ok()?;
        // SAFETY: a descriptor just opened, owned by nothing else.
        Some(unsafe { OwnedFd::from_raw_fd(ns) })
    })
    .as_ref()
    .map(AsRawFd::as_raw_fd)
}

/// This thread inside a template (until dropped): a clone with `CLONE_NEWNS` now copies it.
pub(crate) struct Joined {
    home: RawFd,
}

impl Joined {
    /// Join `t` on this thread (a launcher thread only: its `fs_struct` becomes its own on
    /// the first call). `None`, nothing changed, when it cannot.
    pub(crate) fn enter(t: &Arc<Template>) -> Option<Joined> {
        let home = home()?;
        if !OWN_FS.with(|o| *o.get_or_init(|| sys::unshare(libc::CLONE_FS).is_ok())) {
            return None;
        }
        sys::setns(t.ns.as_raw_fd(), libc::CLONE_NEWNS).ok()?;
        Some(Joined { home })
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        // Back to the host's namespace, then to the process's root and working directory
        // (`setns` left this thread at the namespace's root). A launcher thread left in a
        // template must not go on.
        if sys::setns(self.home, libc::CLONE_NEWNS).is_err() {
            std::process::abort();
        }
        // The umask waits for the next job's `resync_fs`: nothing of this launch creates a
        // file after the clone, which took the thread's umask with it.
        follow_process_root_and_cwd();
    }
}

/// On a thread whose `fs_struct` is its own (one that joined a template): take the process's
/// current root, working directory and umask again (those of its main thread, which the host
/// may have changed since this thread's were last set). A launcher calls it before each job,
/// so a launch sees them as a thread sharing the process's `fs_struct` would; nothing to do on
/// any other thread.
pub(crate) fn resync_fs() {
    if OWN_FS.with(|o| o.get() == Some(&true)) {
        follow_process_root_and_cwd();
        // Best effort (no /proc/self/status): the thread keeps the umask it had.
        if let Some(mask) = process_umask() {
            sys::umask(mask);
        }
    }
}

fn follow_process_root_and_cwd() {
    // Best effort (a main thread that has exited has no /proc/self/root): the thread stays at
    // the host namespace's root then.
    if sys::chdir(c"/proc/self/root").is_ok() {
        let _ = sys::chroot(c".");
    }
    if sys::chdir(c"/proc/self/cwd").is_err() {
        let _ = sys::chdir(c"/");
    }
}

/// The umask of the process's main thread (`Umask:` of /proc/self/status, Linux 4.7+).
fn process_umask() -> Option<libc::mode_t> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    libc::mode_t::from_str_radix(line.trim(), 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::rootfs::{FixedRoot, Mount, MountKind};
    use std::path::PathBuf;

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn plan(mounts: &[Mount]) -> RootPlan {
        let fixed = FixedRoot {
            tmp_size: 1 << 20,
            dev_shm: Some(1 << 20),
            devpts: false,
            workdir: PathBuf::from("/tmp"),
            files: crate::sandbox::rootfs::identity_files("t", 1000, 1000, "/tmp".as_ref()),
        };
        RootPlan::build(mounts, &fixed).expect("plan")
    }

    fn usr() -> Vec<Mount> {
        vec![Mount {
            kind: MountKind::RoBind,
            src: "/usr".into(),
            dst: "/usr".into(),
            optional: false,
        }]
    }

    /// Run `f` in a forked child that joined `t`'s namespace; its exit code.
    fn in_template(t: &Template, f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child makes raw calls and std::fs reads (glibc makes malloc usable
        // after fork) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if sys::setns(t.ns.as_raw_fd(), libc::CLONE_NEWNS).is_ok() {
                f()
            } else {
                99
            };
            // SAFETY: ends the forked child.
            unsafe { libc::_exit(code) };
        }
        let mut st = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
        assert!(libc::WIFEXITED(st), "status {st:#x}");
        libc::WEXITSTATUS(st)
    }

    #[test]
    fn per_run_steps_are_the_writable_layers() {
        let p = plan(&usr());
        let mask = p.per_run.as_ref().expect("eligible");
        for (i, what) in p.what.iter().enumerate() {
            let want = what == "proc /proc"
                || what.starts_with("tmpfs /tmp")
                || what.starts_with("tmpfs /dev/shm");
            assert_eq!(mask[i], want, "{what}");
        }
        // A read-write bind, or a bind on a per-run layer: no template.
        let mut rw = usr();
        rw.push(Mount {
            kind: MountKind::Bind,
            src: "/var/tmp".into(),
            dst: "/data".into(),
            optional: false,
        });
        assert!(plan(&rw).per_run.is_none());
        let mut below = usr();
        below.push(Mount {
            kind: MountKind::RoBind,
            src: "/usr/share".into(),
            dst: "/tmp/share".into(),
            optional: false,
        });
        assert!(plan(&below).per_run.is_none());
    }

    /// Root only: the template is read-only, holds the static root, and its /proc lists no
    /// process at all (its PID namespace died before it was attached): nothing of the host's
    /// processes is visible even where no run's /proc covers it.
    #[test]
    fn template_is_read_only_and_its_proc_is_empty() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let p = plan(&usr());
        let t = p.template.get(&p).expect("template");
        let code = in_template(&t, || {
            let fail = |n: i32| n;
            if !std::path::Path::new("/usr/bin").is_dir()
                || !std::path::Path::new("/etc/passwd").is_file()
            {
                return fail(10);
            }
            for p in ["/x", "/etc/x", "/dev/x", "/tmp/x", "/usr/x"] {
                match std::fs::write(p, b"x") {
                    Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
                    _ => return fail(11),
                }
            }
            let Ok(entries) = std::fs::read_dir("/proc") else {
                return fail(12);
            };
            let mut names = 0;
            for e in entries.flatten() {
                names += 1;
                if e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                {
                    return fail(13);
                }
            }
            // It is a procfs (with its fixed entries), only without processes.
            if names == 0 || !std::path::Path::new("/proc/sys/kernel").is_dir() {
                return fail(14);
            }
            if std::fs::read_link("/proc/self").is_ok() {
                return fail(15);
            }
            0
        });
        assert_eq!(code, 0);
    }

    /// Root only: a fork taken while another thread holds the slot's lock, making the first
    /// template, does not wait on that lock (it would forever: the holder is not in the fork).
    #[test]
    fn a_fork_during_the_first_make_does_not_wait() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        for _ in 0..50 {
            let p = Arc::new(plan(&usr()));
            let maker = p.clone();
            let h = std::thread::spawn(move || maker.template.get(&maker).is_some());
            let mut locked = false;
            while !h.is_finished() {
                if let Err(std::sync::TryLockError::WouldBlock) = p.template.current.try_lock() {
                    locked = true;
                    break;
                }
                std::hint::spin_loop();
            }
            if !locked {
                assert!(h.join().unwrap());
                continue;
            }
            // SAFETY: the child only calls `get` (the hang ceiling is an alarm, whose default
            // action kills it) and leaves with _exit.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0);
            if pid == 0 {
                // SAFETY: alarm has no preconditions.
                unsafe { libc::alarm(60) };
                let code = if p.template.get(&p).is_none() { 0 } else { 1 };
                // SAFETY: ends the forked child.
                unsafe { libc::_exit(code) };
            }
            let mut st = 0;
            // SAFETY: waits for the child just forked.
            assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
            assert!(h.join().unwrap());
            assert!(
                libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
                "forked child: status {st:#x} (SIGALRM: it waited on the lock)"
            );
            return;
        }
        panic!("50 makes, never one caught holding the lock: nothing was tested");
    }

    /// Root only: the ids a template notes (read on the descriptors it cloned, in the host's
    /// namespace) are those the host's paths give, so a second run reuses it; an O_PATH
    /// descriptor and its path give the same id.
    #[test]
    fn the_template_notes_the_sources_as_the_host_sees_them() {
        let fd = sys::open(c"/usr", libc::O_PATH | libc::O_CLOEXEC, 0).unwrap();
        let by_fd = sys::entry_id_fd(fd);
        sys::close(fd);
        assert_eq!(by_fd, sys::entry_id(c"/usr"));
        if !is_root() {
            eprintln!("rest skipped: needs root");
            return;
        }
        let p = plan(&usr());
        let t = p.template.get(&p).expect("template");
        assert_eq!(Some(t.sources.clone()), source_ids(&p));
        let again = p.template.get(&p).expect("template");
        assert!(Arc::ptr_eq(&t, &again), "made again for unchanged sources");
    }

    /// Root only: a host that forks while a template is being made (each child living a
    /// little, as a spawned process does until it execs) does not make it fail: no child holds
    /// a copy of a descriptor the builder opened for writing on the template's root (the
    /// read-only remount would fail with EBUSY).
    #[test]
    fn a_forking_host_does_not_break_the_make() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let mut children = Vec::new();
        for round in 0..100 {
            let p = Arc::new(plan(&usr()));
            let maker = p.clone();
            let h = std::thread::spawn(move || maker.template.get(&maker).is_some());
            // Fork (again and again) while the maker holds the lock, i.e. is making it.
            while !h.is_finished() {
                if let Err(std::sync::TryLockError::WouldBlock) = p.template.current.try_lock() {
                    // SAFETY: the child only sleeps (raw nanosleep) and leaves with _exit.
                    let pid = unsafe { libc::fork() };
                    assert!(pid >= 0);
                    if pid == 0 {
                        let ts = libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 200_000_000,
                        };
                        // SAFETY: a valid timespec; ends the forked child.
                        unsafe {
                            libc::nanosleep(&ts, std::ptr::null_mut());
                            libc::_exit(0);
                        }
                    }
                    children.push(pid);
                }
            }
            assert!(h.join().unwrap(), "round {round}: the template failed");
        }
        for pid in children {
            let mut st = 0;
            // SAFETY: waits for a child forked above.
            unsafe { libc::waitpid(pid, &mut st, 0) };
        }
    }

    /// Root only: a forked copy of the host does not use its parent's template.
    #[test]
    fn a_forked_host_does_not_use_the_parents_template() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let p = plan(&usr());
        assert!(p.template.get(&p).is_some());
        // SAFETY: the child only calls `get` (no lock is taken once the cell is set) and
        // leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = if p.template.get(&p).is_none() { 0 } else { 1 };
            // SAFETY: ends the forked child.
            unsafe { libc::_exit(code) };
        }
        let mut st = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0, "{st:#x}");
    }
}
