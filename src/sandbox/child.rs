//! The child side: everything between clone and exec, in the order it happens (DESIGN §3).
//!
//! Fork-safety: the host is multi-threaded, so this code only walks data the parent prepared
//! (C strings, pointer arrays, mount ops, BPF programs, landlock rules) and makes raw system
//! calls through `crate::sys`. It never allocates, locks or formats. A failure is written to the
//! CLOEXEC report pipe as a fixed-size record and the process `_exit`s.

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use super::landlock::LandlockPlan;
use super::rootfs::{self, RootPlan};
use crate::sys::{self, Errno, SysResult};

/// A setup step, reported with the errno when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    /// Arranging stdio and closing inherited descriptors.
    Fds = 1,
    /// Waiting for the parent to write the id maps.
    Sync = 2,
    /// Switching to the sandbox uid/gid.
    Ids = 3,
    /// Starting a new session (setsid).
    Session = 4,
    /// Joining a fresh session keyring.
    Keyring = 5,
    /// Making the host's mounts private to the sandbox.
    MountPrivate = 6,
    /// Mounting the new root tmpfs and pivoting into it.
    Root = 7,
    /// One of the mount plan's operations (the detail says which).
    Mount = 8,
    /// Detaching the host's root and making `/` read-only.
    Seal = 9,
    /// Setting the hostname.
    Hostname = 10,
    /// Bringing up loopback.
    Loopback = 11,
    /// Changing to the working directory.
    Workdir = 12,
    /// Forking the program from the sandbox's init.
    Fork = 13,
    /// Applying rlimits.
    Rlimits = 14,
    /// Dropping capabilities.
    Capabilities = 15,
    /// Setting no_new_privs.
    NoNewPrivs = 16,
    /// Installing the landlock ruleset.
    Landlock = 17,
    /// Installing the seccomp filters.
    Seccomp = 18,
    /// Executing the program.
    Exec = 19,
    /// Setting the parent-death signal.
    DeathSignal = 20,
    /// Rooting a new cgroup namespace at the sandbox's own cgroup.
    CgroupNs = 21,
    /// Executing the sandbox's init (`runcell-init`, from its memfd).
    Init = 22,
    /// Setting the user namespace's own kernel budgets (/proc/sys/user).
    Budgets = 23,
    /// Opening a bind source as a detached mount tree (the detail says which).
    BindSource = 24,
    /// Moving into the sandbox's own cgroup (cgroup v1 `tasks`).
    CgroupJoin = 25,
}

impl Step {
    pub(crate) fn from_u32(v: u32) -> Option<Step> {
        use Step::*;
        Some(match v {
            1 => Fds,
            2 => Sync,
            3 => Ids,
            4 => Session,
            5 => Keyring,
            6 => MountPrivate,
            7 => Root,
            8 => Mount,
            9 => Seal,
            10 => Hostname,
            11 => Loopback,
            12 => Workdir,
            13 => Fork,
            14 => Rlimits,
            15 => Capabilities,
            16 => NoNewPrivs,
            17 => Landlock,
            18 => Seccomp,
            19 => Exec,
            20 => DeathSignal,
            21 => CgroupNs,
            22 => Init,
            23 => Budgets,
            24 => BindSource,
            25 => CgroupJoin,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use Step::*;
        f.write_str(match self {
            Fds => "file descriptors",
            Sync => "parent synchronisation",
            Ids => "uid/gid switch",
            Session => "setsid",
            Keyring => "session keyring",
            MountPrivate => "private mounts",
            Root => "root tmpfs and pivot_root",
            Mount => "mount",
            Seal => "sealing the root",
            Hostname => "hostname",
            Loopback => "loopback",
            Workdir => "working directory",
            Fork => "fork of the program",
            Rlimits => "rlimits",
            Capabilities => "dropping capabilities",
            NoNewPrivs => "no_new_privs",
            Landlock => "landlock",
            Seccomp => "seccomp",
            Exec => "exec",
            DeathSignal => "parent-death signal",
            CgroupNs => "cgroup namespace",
            Init => "exec of runcell-init",
            Budgets => "user-namespace budgets",
            BindSource => "opening a bind source",
            CgroupJoin => "joining the sandbox's cgroup",
        })
    }
}

/// Kinds of records on the report pipe.
pub(crate) const REC_SETUP_ERROR: u32 = 1;
pub(crate) const REC_EXIT_STATUS: u32 = 2;
pub(crate) const REC_VIOLATION: u32 = 3;
pub(crate) const REC_READY: u32 = 4;
/// Usage of every process of the sandbox, from runcell-init once it has reaped them all: peak
/// RSS in KiB in the step field, CPU time in microseconds (u64) in bytes 8..16.
pub(crate) const REC_USAGE: u32 = 5;
/// A warm cell's program process is confined and waits for its job (see `warm`).
pub(crate) const REC_ARMED: u32 = 6;
/// Size of one record: kind, step, errno or status, index or syscall number.
pub(crate) const RECORD_LEN: usize = 16;

/// Encode a record (used by the child; plain byte shuffling, no allocation).
pub(crate) fn encode(kind: u32, step: u32, value: i32, index: u32) -> [u8; RECORD_LEN] {
    let mut b = [0u8; RECORD_LEN];
    b[0..4].copy_from_slice(&kind.to_ne_bytes());
    b[4..8].copy_from_slice(&step.to_ne_bytes());
    b[8..12].copy_from_slice(&value.to_ne_bytes());
    b[12..16].copy_from_slice(&index.to_ne_bytes());
    b
}

/// Decode a usage record: (peak RSS in KiB, CPU time in microseconds).
pub(crate) fn decode_usage(b: &[u8; RECORD_LEN]) -> (u64, u64) {
    let mut cpu = [0u8; 8];
    cpu.copy_from_slice(&b[8..16]);
    let rss = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    (u64::from(rss), u64::from_ne_bytes(cpu))
}

/// Decode a record.
pub(crate) fn decode(b: &[u8; RECORD_LEN]) -> (u32, u32, i32, u32) {
    let w = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
    (
        u32::from_ne_bytes(w(0)),
        u32::from_ne_bytes(w(4)),
        i32::from_ne_bytes(w(8)),
        u32::from_ne_bytes(w(12)),
    )
}

/// The child's ends of the pipes, as numbered in the parent.
pub(crate) struct ChildFds {
    pub stdin: RawFd,
    pub stdout: RawFd,
    pub stderr: RawFd,
    pub exec: RawFd,
    pub sync: RawFd,
    pub status: RawFd,
    /// The sealed memfd holding `runcell-init`.
    pub init: RawFd,
    /// A number above every fd of this struct (temporary dups go there).
    pub above: RawFd,
}

/// Fixed numbers of the pipes once the child has arranged its descriptors: setup failures go
/// to the exec pipe (held by the setup process and the program until each execs, so EOF there
/// means "both exec'd"), the program's status to the status pipe (held by init only).
/// `READY_FD` and `SOCK_FD` are init's ends of the ready pipe and of the listener socket
/// (numbers shared with init.c).
const EXEC_FD: RawFd = 3;
const SYNC_FD: RawFd = 4;
const STATUS_FD: RawFd = 5;
const INIT_FD: RawFd = 6;
const READY_FD: RawFd = 7;
const SOCK_FD: RawFd = 8;
/// Where descriptors are parked while being moved to their fixed numbers.
const PARK: RawFd = 32;
/// Stack of the program's process between its creation and exec (it only walks prepared data).
const PAYLOAD_STACK: usize = 64 * 1024;

/// Everything the child needs, prepared by the parent.
pub(crate) struct ChildPlan<'a> {
    pub fds: ChildFds,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub clear_groups: bool,
    /// The parent moved us into the sandbox's own cgroup after the clone: root a fresh cgroup
    /// namespace there, so /proc/self/cgroup shows `/` and nothing of the host's layout.
    pub cgroup_ns: bool,
    /// cgroup v1: the leaf's `tasks` files (host descriptors, open for writing); the child
    /// writes `0` to each before anything else, so it never waits on the host's migration.
    pub cgroup_join: &'a [RawFd],
    /// The host process is not dumpable (it changed credentials): its /proc files, and ours
    /// copied from it, belong to root, so the id maps cannot be written until we make
    /// ourselves dumpable and say so.
    pub announce_ready: bool,
    /// The root to build.
    pub root: &'a RootPlan,
    /// Cloned from the root's template mount namespace (`rootfs::template`): the static part
    /// of the root is already there (no source to open, no pivot); only the per-run steps
    /// are left.
    pub template: bool,
    /// One descriptor slot per bind source of `root`, preallocated by the parent (taken once
    /// by the child).
    pub scratch: Cell<&'a mut [RawFd]>,
    pub hostname: &'a CStr,
    pub loopback: bool,
    pub workdir: &'a CStr,
    pub rlimits: &'a [(libc::__rlimit_resource_t, u64, u64)],
    pub last_cap: u32,
    /// Per-user-namespace limits written before the id switch: (/proc/sys/user/NAME, value).
    pub budgets: &'a [(CString, CString)],
    pub landlock: Option<&'a LandlockPlan>,
    pub seccomp: &'a [Vec<libc::sock_filter>],
    /// Index of the seccomp program installed with a user-notification listener, which the
    /// program hands to init so that init can report a forbidden syscall.
    pub seccomp_listener: Option<usize>,
    pub candidates: &'a [CString],
    pub argv: &'a [*const libc::c_char],
    pub envp: &'a [*const libc::c_char],
    /// A warm cell: the program's process stops before exec, reports itself armed and waits
    /// for its job on the sync pipe; `candidates`/`argv`/`envp` above are then unused.
    pub warm: Option<&'a super::warm::Slot>,
}

/// C string constants used by the child, built at compile time.
const fn c(s: &'static [u8]) -> &'static CStr {
    match CStr::from_bytes_with_nul(s) {
        Ok(c) => c,
        Err(_) => panic!("not a C string"),
    }
}
const INIT_NAME: &CStr = c(b"runcell-init\0");
const NOTIFY_ON: &CStr = c(b"1\0");
const NOTIFY_OFF: &CStr = c(b"0\0");

fn fail(step: Step, errno: Errno, index: u32) -> ! {
    let rec = encode(REC_SETUP_ERROR, step as u32, errno, index);
    let _ = sys::write_all_raw(EXEC_FD, &rec);
    sys::exit(126)
}

/// A failure before the parent released us: report it, then exit only once the parent has
/// written the id maps and released us (or is gone). Exiting at once would make the parent's
/// id-map writes fail on a dead process and hide this record behind that error.
fn unsynced(exec: RawFd, sync: RawFd, rec: [u8; RECORD_LEN]) -> ! {
    let _ = sys::write_all_raw(exec, &rec);
    let mut go = [0u8; 1];
    let _ = sys::read_raw(sync, &mut go);
    sys::exit(126)
}

fn or_fail<T>(r: SysResult<T>, step: Step) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fail(step, e, 0),
    }
}

/// Entry point of the cloned child. Never returns.
pub(crate) fn run(plan: &ChildPlan<'_>) -> ! {
    // 1. Descriptors: stdio on 0-2, report on 3, sync on 4, everything else closed (including
    //    pipes of sandboxes other threads are starting right now).
    sys::reset_signals();
    // 0. Into the sandbox's cgroup (v1), before this process starts anything: every process
    //    of the sandbox inherits it. Before `arrange_fds`, which closes these descriptors.
    //
    //    Until the sync read below every call is raw (`sys::*_raw`): this process runs on the
    //    launching thread's TLS, and that thread writes the id maps meanwhile, so neither may
    //    touch the one `errno` both would use.
    for (i, &fd) in plan.cgroup_join.iter().enumerate() {
        if let Err(e) = sys::write_all_raw(fd, b"0") {
            unsynced(
                plan.fds.exec,
                plan.fds.sync,
                encode(REC_SETUP_ERROR, Step::CgroupJoin as u32, e, i as u32),
            );
        }
    }
    if let Err(e) = arrange_fds(&plan.fds) {
        // The exec pipe may not be at EXEC_FD yet: write to where it was.
        let _ = sys::write_all_raw(
            plan.fds.exec,
            &encode(REC_SETUP_ERROR, Step::Fds as u32, e, 0),
        );
        sys::exit(126);
    }

    if plan.announce_ready {
        let ready = sys::prctl_raw(libc::PR_SET_DUMPABLE, 1, 0)
            .and_then(|()| sys::write_all_raw(EXEC_FD, &encode(REC_READY, 0, 0, 0)));
        if let Err(e) = ready {
            let _ = sys::write_all_raw(EXEC_FD, &encode(REC_SETUP_ERROR, Step::Sync as u32, e, 0));
            sys::exit(126);
        }
    }

    // What needs neither the id maps nor the cgroup (v2: the host moves us only after the
    // maps) is done while the parent writes them: usually it has finished by the time we wait
    // below, so we do not sleep there (one wake-up less between host and child per run).
    //
    // Bind sources are opened with the caller's credentials (a source in a private 0700
    // directory opens as it did for build()). The new user namespace gives us the mount
    // capabilities from the clone on; path permissions are checked against the caller's
    // host ids, mapped or not.
    let scratch = plan.scratch.take();
    if !plan.template
        && let Err((step, e, i)) = rootfs::open_sources(plan.root, scratch)
    {
        unsynced(EXEC_FD, SYNC_FD, encode(REC_SETUP_ERROR, step as u32, e, i));
    }

    // 2. Wait until the parent has written the id maps. EOF means the parent is gone.
    let mut go = [0u8; 1];
    match sys::read_raw(SYNC_FD, &mut go) {
        Ok(1) => {}
        Ok(_) => sys::exit(126),
        Err(e) => fail(Step::Sync, e, 0),
    }
    // Released: the host is done writing the maps and only waits on the exec pipe now.
    if plan.cgroup_ns {
        or_fail(sys::unshare(libc::CLONE_NEWCGROUP), Step::CgroupNs);
    }

    // 3. The sandbox's own unprivileged ids (needed before creating any file: the namespace's
    //    root is not mapped). Capabilities in the namespace survive: the kernel only clears
    //    them when leaving the namespace's uid 0, which we never had.
    or_fail(
        sys::set_ids(plan.uid, plan.gid, plan.clear_groups),
        Step::Ids,
    );

    // A fresh session keyring (the host's must not be reachable), joined as the run's own
    // host uid: charged to its key quota, which no other run and no host service shares (a
    // root host leases a uid per run), not to host root's.
    or_fail(sys::new_session_keyring(), Step::Keyring);

    // Die with the host. Armed only now: a credential change clears the parent-death signal.
    // The parent keeps its end of the sync pipe open for the whole run, so a hang-up there
    // means it died before the signal was armed.
    or_fail(
        sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0),
        Step::DeathSignal,
    );
    if sys::hung_up(SYNC_FD) {
        sys::exit(126);
    }
    // A warm cell's program process inherits it: its job is released there (closed at exec).
    if plan.warm.is_none() {
        sys::close(SYNC_FD);
    }

    // 4. No controlling terminal (TIOCSTI-style injection).
    or_fail(sys::setsid(), Step::Session);

    // 5. The root file system.
    let built = if plan.template {
        rootfs::assemble_in_template(plan.root)
    } else {
        rootfs::assemble(plan.root, scratch)
    };
    if let Err((step, e, i)) = built {
        fail(step, e, i);
    }

    // 6. Identity and network.
    or_fail(sys::set_hostname(plan.hostname), Step::Hostname);
    if plan.loopback {
        or_fail(sys::loopback_up(), Step::Loopback);
    }
    or_fail(sys::chdir(plan.workdir), Step::Workdir);
    sys::unblock_signals();

    // The namespace's own budgets, once the root is built (detached mount trees count as
    // mount namespaces): we still hold CAP_SYS_RESOURCE in it, the program never will. The
    // host's /proc is gone, but the sandbox's /proc/sys/user shows this namespace's limits.
    for (i, (path, value)) in plan.budgets.iter().enumerate() {
        match sys::write_file(path, value.to_bytes()) {
            Ok(()) | Err(libc::ENOENT) => {}
            Err(e) => fail(Step::Budgets, e, i as u32),
        }
    }

    // 7. The program's process: a CLONE_VM child (it shares this memory, which is the host's,
    //    until it execs) that waits until PID 1 is runcell-init, then finishes its own setup
    //    and execs the program. This process then becomes runcell-init: from that point no
    //    process of the sandbox holds any of the host's memory.
    let (ready_r, ready_w) = or_fail(sys::pipe(0), Step::Fork);
    let notify = plan
        .seccomp_listener
        .map(|_| or_fail(sys::socketpair(), Step::Seccomp));
    let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); PAYLOAD_STACK];
    let theirs = notify.map(|(_, theirs)| theirs);
    let ours = notify.map(|(ours, _)| ours);
    let payload_pid = match sys::spawn_on(&mut stack, || {
        sys::close(ready_w);
        if let Some(o) = ours {
            sys::close(o);
        }
        payload(plan, ready_r, theirs)
    }) {
        Ok(pid) => pid,
        Err(e) => fail(Step::Fork, e, 0),
    };
    sys::close(ready_r);
    if let Some(t) = theirs {
        sys::close(t);
    }
    exec_init(payload_pid, ready_w, ours)
}

/// Become runcell-init: move init's descriptors to the numbers init.c expects, drop everything
/// else (stdio, the memfd on exec), and exec it. `stack` of the program's process stays valid:
/// it belongs to the host's memory, which the program's process keeps using until it execs.
fn exec_init(payload: libc::pid_t, ready_w: RawFd, sock: Option<RawFd>) -> ! {
    let moved = (|| -> SysResult<()> {
        let r = sys::dup_above(ready_w, PARK)?;
        sys::close(ready_w);
        sys::dup2(r, READY_FD)?;
        sys::close(r);
        if let Some(s) = sock {
            let p = sys::dup_above(s, PARK)?;
            sys::close(s);
            sys::dup2(p, SOCK_FD)?;
            sys::close(p);
        }
        // init writes the status record; every other descriptor is closed at exec.
        sys::clear_cloexec(STATUS_FD)?;
        sys::set_cloexec(INIT_FD)?;
        Ok(())
    })();
    or_fail(moved, Step::Init);
    // init keeps the program's stdout and stderr (it never writes to them) and closes them
    // just before its final report: the program's exit then wakes only init, and the host
    // wakes once, at the report, instead of once at the pipes' end and again at the report.
    sys::close(0);
    // The host's end-of-run request (SIGUSR1) and SIGCHLD stay pending until init watches them
    // (the mask survives exec).
    sys::block_signals(&[libc::SIGCHLD, libc::SIGUSR1]);
    // argv: name, the program's pid (decimal, formatted by hand: no allocation), notify flag.
    let mut digits = [0u8; 24];
    let pid = sys::fmt_decimal(payload as u64, &mut digits);
    let notify = if sock.is_some() {
        NOTIFY_ON
    } else {
        NOTIFY_OFF
    };
    let argv = [
        INIT_NAME.as_ptr(),
        pid.as_ptr(),
        notify.as_ptr(),
        std::ptr::null(),
    ];
    let envp = [std::ptr::null()];
    let e = sys::execveat_fd(INIT_FD, &argv, &envp);
    fail(Step::Init, e, 0)
}

fn arrange_fds(fds: &ChildFds) -> SysResult<()> {
    let wanted = [
        fds.stdin, fds.stdout, fds.stderr, fds.exec, fds.sync, fds.status, fds.init,
    ];
    // Raw calls (no `errno`): this runs before the sync read (see `run`).
    let mut tmp = [0 as RawFd; 7];
    for (t, &fd) in tmp.iter_mut().zip(wanted.iter()) {
        *t = sys::dup_above_raw(fd, fds.above)?;
    }
    for (target, &t) in tmp.iter().enumerate() {
        sys::dup2_raw(t, target as RawFd)?;
    }
    // Close everything else for real: none of the host's descriptors reaches the sandbox.
    sys::close_from_raw(7)?;
    for fd in [EXEC_FD, SYNC_FD, STATUS_FD, INIT_FD] {
        sys::set_cloexec_raw(fd)?;
    }
    Ok(())
}

/// The program's process: wait for runcell-init, then limits, privileges, confinement, exec.
fn payload(plan: &ChildPlan<'_>, ready: RawFd, notify: Option<RawFd>) -> ! {
    sys::close(STATUS_FD);
    // Until init has exec'd, PID 1 still shares the host's memory: nothing of the program may
    // run before that. End of file without the byte: the setup process failed (and said so).
    let mut byte = [0u8; 1];
    match sys::retry(|| sys::read(ready, &mut byte)) {
        Ok(1) => sys::close(ready),
        _ => sys::exit(126),
    }
    for &(res, soft, hard) in plan.rlimits {
        or_fail(sys::set_rlimit(res, soft, hard), Step::Rlimits);
    }
    or_fail(sys::cloexec_from(3), Step::Fds);
    or_fail(sys::drop_all_caps(plan.last_cap), Step::Capabilities);
    or_fail(
        sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0),
        Step::NoNewPrivs,
    );
    if let Some(ll) = plan.landlock {
        let ruleset = or_fail(
            sys::landlock_create_ruleset(&ll.attr, ll.attr_size),
            Step::Landlock,
        );
        if let Err((e, i)) = super::landlock::add_rules(ruleset, ll) {
            fail(Step::Landlock, e, i);
        }
        or_fail(sys::landlock_restrict_self(ruleset), Step::Landlock);
        sys::close(ruleset);
    }
    // A warm cell's process notes the CPU time of its own setup (the few microseconds of
    // confinement that follow count to the job).
    // Kept as a value: `plan` lives in the launching thread's frame, which a warm cell's
    // process outlives (nothing below its job's arrival may read `plan`).
    let warm = std::hint::black_box(plan.warm);
    let setup_cpu = if warm.is_some() {
        sys::process_cpu_ns()
    } else {
        0
    };
    // Seccomp last: everything above may use calls the policy forbids. The notifying
    // program's listener goes to init; every policy allows sendmsg, close and execve.
    for (i, prog) in plan.seccomp.iter().enumerate() {
        if Some(i) == plan.seccomp_listener {
            let listener = or_fail(
                sys::seccomp_install(
                    prog,
                    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong,
                ),
                Step::Seccomp,
            );
            if let Some(sock) = notify {
                or_fail(sys::send_fd(sock, listener), Step::Seccomp);
                sys::close(sock);
            }
            sys::close(listener);
        } else {
            or_fail(sys::seccomp_install(prog, 0), Step::Seccomp);
        }
    }
    // A warm cell waits here for its job, and execs it (see `warm::Slot::run_job`).
    if let Some(w) = warm {
        fail(Step::Exec, w.run_job(EXEC_FD, SYNC_FD, setup_cpu), 0)
    }
    // Like execvp: try each candidate; remember EACCES over ENOENT.
    let mut err = libc::ENOENT;
    for cand in plan.candidates {
        match sys::execve(cand, plan.argv, plan.envp) {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => err = libc::EACCES,
            e => {
                err = e;
                break;
            }
        }
    }
    fail(Step::Exec, err, 0)
}
