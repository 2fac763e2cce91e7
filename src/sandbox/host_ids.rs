//! Host ids of a run: which host uid and gid the sandbox's single uid/gid map to.
//!
//! An unprivileged host maps the sandbox to itself (nothing else is allowed). A root host gives
//! every concurrent run its own uid — and the gid of the same number — leased from a dedicated
//! range (isolate's model), so that nothing the kernel counts per user is shared: the key quota
//! of the session keyring, inotify instances and every other user-namespace count (charged to
//! the namespace's owner, which is the run's uid, see [`OwnerWindow`]), RLIMIT_NPROC, and
//! signals or ptrace between processes of the same uid. A fixed pair of ids
//! ([`HostIds::Fixed`]) is still possible, shared by every run.
//!
//! Leases are unique within the process and across runcell processes on the host: each leased
//! uid is an exclusive `flock` on `/run/runcell/host-ids/UID`, taken on an open file description
//! of its own (so two leases in one process conflict too) and released when the lease is
//! dropped — after the sandbox is reaped — or when the process dies, whatever killed it.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::fork::{PerProcess, process_key};
use crate::error::{Error, Result};
use crate::sys;

/// Where the lease files live (a root-owned directory on the host's run-time tmpfs).
pub const LEASE_DIR: &str = "/run/runcell/host-ids";

/// A range of host ids reserved for sandboxes: uid `first + i` goes with gid `first + i`.
///
/// The default, [`HostIdRange::DEFAULT`] (`80000-96383`), lies in 65536–99999: above every
/// 16-bit id, so it meets none of the ranges systemd's "Users, Groups, UIDs and GIDs"
/// document assigns (system 1–999, regular 1000–60000, systemd-homed 60001–60513, nspawn
/// `--bind-user` 60514–60577, DynamicUser 61184–65519, `nobody` 65534, container ranges from
/// 524288 up, the foreign range near 2^31; it lists 65536–524287 as unused), and below
/// 100000, where `useradd` starts the subordinate ranges of `/etc/subuid` and `/etc/subgid`
/// (SUB_UID_MIN). Choose another range when a directory service (LDAP, SSSD, winbind) hands
/// out ids there. No user of the host may own an id of the range: a process running as one
/// would hold every capability over the user namespace of the run that leased it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostIdRange {
    first: u32,
    count: u32,
}

impl HostIdRange {
    /// `80000-96383`: 16384 concurrent runs (see the type's documentation for why there).
    pub const DEFAULT: HostIdRange = HostIdRange {
        first: 80_000,
        count: 16_384,
    };

    /// `count` ids from `first`. Refused: an empty range, id 0, `nobody` (65534), the 16-bit
    /// and 32-bit `-1` (65535, 4294967295), and a range that wraps.
    pub fn new(first: u32, count: u32) -> Result<HostIdRange> {
        if count == 0 {
            return Err(Error::config("host id range is empty"));
        }
        let last = first
            .checked_add(count - 1)
            .filter(|&l| l != u32::MAX)
            .ok_or_else(|| Error::config("host id range runs past 4294967294"))?;
        for (id, what) in [(0, "root (0)"), (65534, "nobody (65534)"), (65535, "65535")] {
            if (first..=last).contains(&id) {
                return Err(Error::config(format!(
                    "host id range {first}-{last} contains {what}"
                )));
            }
        }
        Ok(HostIdRange { first, count })
    }

    /// Parse `FIRST-LAST` (inclusive), as in profiles and on the command line.
    pub fn parse(s: &str) -> Result<HostIdRange> {
        let bad = || Error::config(format!("host id range {s:?}: expected FIRST-LAST"));
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let last: u32 = b.trim().parse().map_err(|_| bad())?;
        if last < first {
            return Err(bad());
        }
        HostIdRange::new(first, last - first + 1)
    }

    /// The first id.
    pub fn first(&self) -> u32 {
        self.first
    }

    /// The last id (inclusive).
    pub fn last(&self) -> u32 {
        self.first + (self.count - 1)
    }

    /// How many ids (the most runs that can run at once on the host).
    pub fn count(&self) -> u32 {
        self.count
    }
}

impl Default for HostIdRange {
    fn default() -> Self {
        HostIdRange::DEFAULT
    }
}

impl std::fmt::Display for HostIdRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last())
    }
}

impl serde::Serialize for HostIdRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Which host ids a root host maps a sandbox to (an unprivileged host always maps it to
/// itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostIds {
    /// Each run leases a uid of its own, and the gid of the same number, from this range.
    Range(HostIdRange),
    /// Every run maps to these ids (never 0), shared by all runs at once: they share its key
    /// quota and user counts. The runs' user namespaces stay owned by root (a fixed id may be
    /// one host services run as, which must not hold capabilities over any sandbox), so their
    /// user-namespace counts are charged to root, as before per-run ids existed.
    Fixed {
        /// Host uid.
        uid: u32,
        /// Host gid.
        gid: u32,
    },
}

impl Default for HostIds {
    fn default() -> Self {
        HostIds::Range(HostIdRange::DEFAULT)
    }
}

/// The host ids one run maps to, held from before its clone until it is reaped: while any
/// clone of a lease lives, no other run on the host gets the same leased uid.
///
/// Get one with [`Sandbox::lease_host_ids`](crate::Sandbox::lease_host_ids) to prepare files
/// for a run before it starts (the [`Workspace`](crate::Workspace) helper does), and give it
/// to the run with [`Command::host_ids`](crate::Command::host_ids).
#[derive(Debug, Clone)]
pub struct HostIdLease {
    uid: u32,
    gid: u32,
    /// The locked lease file, for a uid leased from a range.
    lock: Option<Arc<OwnedFd>>,
}

impl HostIdLease {
    /// The host uid of the run.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The host gid of the run.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Whether the uid was leased from a range (false: fixed ids or the host user's own).
    pub fn is_leased(&self) -> bool {
        self.lock.is_some()
    }
}

impl PartialEq for HostIdLease {
    fn eq(&self, other: &Self) -> bool {
        (self.uid, self.gid) == (other.uid, other.gid)
    }
}

impl Eq for HostIdLease {}

/// Whether this process runs as root (its sandboxes then map to leased or fixed ids).
pub(crate) fn host_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// For a root host: every id of `range` must exist in this process's user namespace (root in
/// a container sees only the ids its own user namespace maps, often 0-65535), or the id maps
/// of the runs could not be written. Checked at `build()`, with the fix.
pub(crate) fn check_mapped(range: HostIdRange) -> Result<()> {
    for file in ["uid_map", "gid_map"] {
        let path = format!("/proc/self/{file}");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Path {
            what: "id map",
            path: path.clone().into(),
            source: e,
        })?;
        if let Some(id) = first_unmapped(&text, range) {
            return Err(Error::config(format!(
                "host id range {range}: id {id} does not exist in this process's user \
                 namespace ({path}: {}); choose a range inside it (host_id_range) or fixed ids \
                 (host_uid/host_gid)",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            )));
        }
    }
    Ok(())
}

/// The first id of `range` that no line (`inside outside count`) of an id map covers.
fn first_unmapped(map: &str, range: HostIdRange) -> Option<u64> {
    let extents: Vec<(u64, u64)> = map
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|v| v.parse::<u64>().ok());
            let (inside, _outside, count) = (f.next()??, f.next()??, f.next()??);
            Some((inside, inside + count))
        })
        .collect();
    let mut id = u64::from(range.first());
    while id <= u64::from(range.last()) {
        match extents.iter().find(|(lo, hi)| (*lo..*hi).contains(&id)) {
            Some(&(_, hi)) => id = hi,
            None => return Some(id),
        }
    }
    None
}

/// The ids a run of a sandbox configured with `ids` maps to on this host.
pub(crate) fn lease(ids: &HostIds) -> Result<HostIdLease> {
    if !host_is_root() {
        // SAFETY: plain getters.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        return Ok(HostIdLease {
            uid,
            gid,
            lock: None,
        });
    }
    match *ids {
        HostIds::Fixed { uid, gid } => Ok(HostIdLease {
            uid,
            gid,
            lock: None,
        }),
        HostIds::Range(range) => lease_from(range),
    }
}

/// Where the next search of a range starts: round robin, so a uid just released (whose keys
/// the kernel may still be collecting) is the last to be leased again. Only ever grows (a
/// thread that leases again never starts before its previous uid).
static CURSOR: AtomicU64 = AtomicU64::new(0);

/// The lease directory, opened by the first lease of the process (kept open for its life; a
/// forked copy of the host uses the same open directory). Without a lock: threads racing to
/// open it keep the first descriptor published and close theirs, so a fork taken while
/// another thread opens it leaves the child nothing to wait for.
fn lease_dir() -> Result<std::os::fd::BorrowedFd<'static>> {
    static DIR: AtomicI32 = AtomicI32::new(-1);
    let fd = match DIR.load(Ordering::Acquire) {
        -1 => {
            let dir = open_lease_dir()?;
            match DIR.compare_exchange(-1, dir.as_raw_fd(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => std::os::fd::IntoRawFd::into_raw_fd(dir),
                // Another thread's is kept; this one is closed.
                Err(published) => published,
            }
        }
        fd => fd,
    };
    // SAFETY: a published descriptor is never closed (the process keeps it).
    Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

/// Open (creating) the lease directory, refusing one that is not a root-owned directory that
/// only root can write (a planted symlink or a directory another user controls would let that
/// user hold or release leases).
fn open_lease_dir() -> Result<OwnedFd> {
    let err = |e: std::io::Error| Error::Path {
        what: "host id lease directory",
        path: LEASE_DIR.into(),
        source: e,
    };
    let mut cur: OwnedFd = std::fs::File::open("/").map_err(err)?.into();
    for comp in ["run", "runcell", "host-ids"] {
        let c = CString::new(comp).map_err(|_| err(std::io::Error::other("bad name")))?;
        match sys::mkdirat(cur.as_raw_fd(), &c, 0o755) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err(err(std::io::Error::from_raw_os_error(e))),
        }
        let fd = sys::openat_beneath(
            cur.as_raw_fd(),
            &c,
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        )
        .map_err(|e| err(std::io::Error::from_raw_os_error(e)))?;
        // SAFETY: a fresh descriptor nothing else owns.
        cur = unsafe { OwnedFd::from_raw_fd(fd) };
        let md = std::fs::File::from(cur.try_clone().map_err(err)?)
            .metadata()
            .map_err(err)?;
        use std::os::unix::fs::MetadataExt;
        // `/run` itself may be a sticky, world-writable directory (as /tmp is; some minimal
        // systems mount it 1777): nobody else can then rename or remove root's entries in it,
        // and an entry someone else made first fails the owner check below. runcell's own
        // directories must be writable by root alone.
        let sticky_ok = comp == "run" && md.mode() & libc::S_ISVTX != 0;
        if md.uid() != 0 || (md.mode() & 0o022 != 0 && !sticky_ok) {
            return Err(err(std::io::Error::other(format!(
                "/{comp} must belong to root and be writable only by root (owner {}, mode {:o})",
                md.uid(),
                md.mode() & 0o7777
            ))));
        }
    }
    Ok(cur)
}

fn lease_from(range: HostIdRange) -> Result<HostIdLease> {
    let dir = lease_dir()?;
    let start = CURSOR.fetch_add(1, Ordering::Relaxed);
    for i in 0..u64::from(range.count) {
        // Less than `count`, which is a u32.
        let offset = ((start + i) % u64::from(range.count)) as u32;
        let uid = range.first + offset;
        let name = CString::new(uid.to_string()).map_err(|_| Error::config("bad lease name"))?;
        let fd = sys::openat_beneath(
            dir.as_raw_fd(),
            &name,
            libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC,
            0o600,
        )
        .map_err(|e| Error::Path {
            what: "host id lease file",
            path: format!("{LEASE_DIR}/{uid}").into(),
            source: std::io::Error::from_raw_os_error(e),
        })?;
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        match sys::flock_exclusive_nb(fd.as_raw_fd()) {
            Ok(()) => {
                // The next search starts after this one.
                CURSOR.fetch_max(start + i + 1, Ordering::Relaxed);
                return Ok(HostIdLease {
                    uid,
                    gid: uid,
                    lock: Some(Arc::new(fd)),
                });
            }
            Err(libc::EWOULDBLOCK) => continue,
            Err(e) => {
                return Err(Error::sys(
                    "flock host id lease",
                    std::io::Error::from_raw_os_error(e),
                ));
            }
        }
    }
    Err(Error::HostIdsExhausted { range })
}

/// While a root host clones a sandbox: the launching thread's effective uid is the run's host
/// uid, so the new user namespace is owned by that uid and everything the kernel counts per
/// user up the namespace chain (inotify instances and watches, namespaces, ...) is charged to
/// it, not to host root. Only the calling thread changes (see [`sys::thread_owner_set`]).
///
/// Each credential change of a thread sets the process's memory "not dumpable" (and the
/// setup process, which shares the host's memory until it execs, changes its credentials
/// too): the host's own setting is saved when the first window of the process opens and put
/// back when the last one closes, after the setup process has exec'd.
/// A window inherited by a forked copy of the host (a warm cell's, dropped with the copy's
/// `Sandbox`) is not one of that process's windows: its drop changes nothing there.
pub(crate) struct OwnerWindow {
    switched: bool,
    /// The process that opened it ([`process_key`]).
    process: u64,
}

/// (open windows, the host's dumpable setting before the first opened), of this process: a
/// forked copy of the host gets a count of its own (its parent's windows are not its own; a
/// fork taken while a thread of the parent held this lock must not leave the child waiting
/// on it, see `fork`).
static WINDOWS: PerProcess<Mutex<(u32, libc::c_int)>> = PerProcess::new();

/// The host's dumpable setting while a window is open (-1: none open). Written under the
/// process's `WINDOWS` lock, set before any credential change clears the setting and reset
/// only after it was put back, so whenever the setting may be cleared by a window this holds
/// what it was; read without a lock by [`restore_dumpable`] in a forked child.
static SAVED_DUMPABLE: AtomicI32 = AtomicI32::new(-1);

/// `pthread_atfork` child handler: a child forked while a window of the parent was open
/// inherits the cleared setting, but shares its memory with no setup process: it gets the
/// host's own setting back (async-signal-safe: an atomic and a raw `prctl`).
extern "C" fn restore_dumpable() {
    let saved = SAVED_DUMPABLE.swap(-1, Ordering::AcqRel);
    if saved >= 0 {
        let _ = sys::prctl_raw(libc::PR_SET_DUMPABLE, saved as libc::c_ulong, 0);
    }
}

fn windows() -> &'static Mutex<(u32, libc::c_int)> {
    static HANDLER: AtomicBool = AtomicBool::new(false);
    if !HANDLER.swap(true, Ordering::AcqRel) {
        sys::at_fork_child(restore_dumpable);
    }
    WINDOWS.get_or_init(|| Mutex::new((0, 1)))
}

impl OwnerWindow {
    /// Open a window around a launch. `owner`: the uid to own the new user namespace (only for
    /// a root host; `None` only keeps the dumpable setting).
    pub(crate) fn open(owner: Option<u32>) -> Result<OwnerWindow> {
        {
            let mut w = windows().lock().unwrap_or_else(|e| e.into_inner());
            if w.0 == 0 {
                // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
                w.1 = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
                SAVED_DUMPABLE.store(w.1, Ordering::Release);
            }
            w.0 += 1;
        }
        let mut window = OwnerWindow {
            switched: false,
            process: process_key(),
        };
        if let Some(uid) = owner {
            if let Err(e) = sys::thread_owner_set(uid) {
                // Whatever part of the switch happened is undone by the drop.
                window.switched = true;
                return Err(Error::sys(
                    "setresuid (namespace owner)",
                    std::io::Error::from_raw_os_error(e),
                ));
            }
            window.switched = true;
        }
        Ok(window)
    }

    /// The clone is done: this thread is root again (the window stays open for the dumpable
    /// setting until dropped).
    pub(crate) fn cloned(&mut self) -> Result<()> {
        if self.switched {
            // Cleared only once this thread is root again: if it cannot be, the drop aborts.
            sys::thread_owner_reset().map_err(|e| {
                Error::sys(
                    "setresuid (back to root)",
                    std::io::Error::from_raw_os_error(e),
                )
            })?;
            self.switched = false;
        }
        Ok(())
    }
}

impl Drop for OwnerWindow {
    fn drop(&mut self) {
        if self.process != process_key() {
            // Opened by an ancestor: the count here is this process's own, and a switched
            // thread (only ever the launching one, mid-clone) is not in this process.
            return;
        }
        if self.switched {
            // A launcher thread that cannot become root again must not launch anything else.
            if sys::thread_owner_reset().is_err() {
                std::process::abort();
            }
        }
        let mut w = windows().lock().unwrap_or_else(|e| e.into_inner());
        w.0 -= 1;
        if w.0 == 0 {
            let _ = sys::prctl(libc::PR_SET_DUMPABLE, w.1.max(0) as libc::c_ulong, 0);
            SAVED_DUMPABLE.store(-1, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What leasing and the owner window add to a launch, measured (not asserted: timing
    /// depends on the machine). `cargo test --lib host_ids::tests::cost -- --ignored
    /// --nocapture`, as root.
    #[test]
    #[ignore]
    fn cost() {
        if !host_is_root() {
            return;
        }
        let n = 20_000u32;
        let range = HostIds::Range(HostIdRange::new(97_800, 64).unwrap());
        let t = std::time::Instant::now();
        for _ in 0..n {
            drop(lease(&range).unwrap());
        }
        let per_lease = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let mut w = OwnerWindow::open(Some(97_800)).unwrap();
            w.cloned().unwrap();
        }
        let per_window = t.elapsed() / n;
        println!(
            "lease + release: {per_lease:?}; owner window (switch, back, dumpable): {per_window:?}"
        );
    }

    #[test]
    fn a_range_must_lie_in_the_id_map() {
        let r = HostIdRange::new(80_000, 100).unwrap();
        assert_eq!(first_unmapped("0 0 4294967295\n", r), None);
        // Root of a rootless container: 0-65535 only.
        assert_eq!(
            first_unmapped("0 1000 1\n1 100000 65535\n", r),
            Some(80_000)
        );
        // Two extents that together cover it; one that stops short.
        assert_eq!(first_unmapped("0 0 80050\n80050 200000 50\n", r), None);
        assert_eq!(first_unmapped("0 0 80050\n", r), Some(80_050));
    }

    #[test]
    fn ranges_must_exist_in_the_user_namespace() {
        // The initial namespace maps every id; a range at the top of the id space is mapped
        // there too, and nothing is refused that exists.
        let text = std::fs::read_to_string("/proc/self/uid_map").unwrap();
        if text.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"] {
            check_mapped(HostIdRange::DEFAULT).unwrap();
            check_mapped(HostIdRange::new(4_000_000_000, 1000).unwrap()).unwrap();
        }
    }

    /// What a forked test child's status says, for the assertion messages.
    fn child_said(status: libc::c_int) -> String {
        if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
            "it hung (SIGALRM)".into()
        } else if libc::WIFEXITED(status) {
            format!("its check failed (exit {})", libc::WEXITSTATUS(status))
        } else {
            format!("status {status:#x}")
        }
    }

    /// A fork taken while another thread holds the window count's lock (a launch opening or
    /// closing its window, or the reaper closing one): the child's windows use a count of
    /// their own (before, the child's next run waited for that lock for ever). The child
    /// compares against its own reading: other tests' launches change the process's
    /// dumpable setting while this one runs.
    #[test]
    fn a_fork_while_a_window_is_locked_does_not_hang_the_child() {
        let (held, hold) = std::sync::mpsc::channel::<()>();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _g = windows().lock().unwrap_or_else(|e| e.into_inner());
            held.send(()).unwrap();
            let _ = finish.recv();
        });
        hold.recv().unwrap();
        let status = crate::sandbox::fork::in_forked_child(30, || {
            // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
            let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
            (0..3).all(|_| OwnerWindow::open(None).is_ok())
                // SAFETY: as above.
                && unsafe { libc::prctl(libc::PR_GET_DUMPABLE) } == dumpable
        });
        done.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(status, 0, "the child: {}", child_said(status));
    }

    /// A child forked while a window of the parent is open (its memory not dumpable) gets
    /// the host's setting back: no setup process shares its memory. The host's setting is
    /// the one the open window saved (other tests' launches change the current one).
    #[test]
    fn a_child_forked_in_a_window_is_dumpable_as_the_host() {
        let w = OwnerWindow::open(None).unwrap();
        // Set when the first window opened and kept until the last closes: ours is open.
        let host = SAVED_DUMPABLE.load(Ordering::Acquire);
        assert!(host >= 0, "an open window saves the host's setting");
        // As a launch's credential change would.
        let _ = sys::prctl(libc::PR_SET_DUMPABLE, 0, 0);
        let status = crate::sandbox::fork::in_forked_child(30, || {
            // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
            unsafe { libc::prctl(libc::PR_GET_DUMPABLE) == host }
        });
        drop(w);
        assert_eq!(
            status,
            0,
            "the child kept its parent's cleared setting: {}",
            child_said(status)
        );
    }

    /// A forked child that drops a window its parent opened (a warm cell of an inherited
    /// `Sandbox`) leaves its own count alone: its windows open and close as before (the
    /// count underflowed here before: a panic in a debug build).
    #[test]
    fn a_window_inherited_by_a_fork_is_not_the_childs() {
        let inherited = OwnerWindow::open(None).unwrap();
        let status = crate::sandbox::fork::in_forked_child(30, move || {
            drop(inherited);
            (0..2).all(|_| OwnerWindow::open(None).is_ok())
                && windows().lock().is_ok_and(|w| w.0 == 0)
        });
        assert_eq!(status, 0, "the child: {}", child_said(status));
    }

    /// In a forked child (one thread: no other test's launch changes the process's dumpable
    /// setting there): the switch and its undoing leave the credentials and the setting as
    /// they were.
    #[test]
    fn the_window_leaves_the_thread_as_it_was() {
        if !host_is_root() {
            return;
        }
        let status = crate::sandbox::fork::in_forked_child(30, || {
            // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
            let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) };
            let Ok(mut w) = OwnerWindow::open(Some(97_801)) else {
                return false;
            };
            // SAFETY: plain getters.
            let switched = unsafe { (libc::geteuid(), libc::getuid()) } == (97_801, 0);
            let back = w.cloned().is_ok();
            // SAFETY: plain getter.
            let root = unsafe { libc::geteuid() } == 0;
            drop(w);
            // SAFETY: as above.
            let same = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) } == dumpable;
            switched && back && root && same
        });
        assert_eq!(status, 0, "the child: {}", child_said(status));
    }
}
