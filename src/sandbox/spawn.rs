//! The parent side of a run: prepare the per-run data, clone, write the id maps, release the
//! child, then supervise: feed stdin, collect output under the caps, enforce the wall time,
//! reap, and turn what happened into an [`Outcome`].
//!
//! Supervision is one poll loop on the calling thread (pidfd + pipes): no helper thread or
//! process per sandbox.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use super::cgroup::{Lease, Usage};
use super::child::{self, ChildFds, ChildPlan, RECORD_LEN, Step};
use super::host_ids::{HostIdLease, OwnerWindow};
use super::outcome::{Outcome, Verdict, Violation};
use super::{Command, Sandbox};
use crate::error::{Error, Result};
use crate::sys;

/// Where the program's stdin comes from.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// These bytes, then end of file.
    Bytes(&'a [u8]),
    /// Everything read from this host file descriptor (copied by the host, so a terminal is
    /// never handed to the sandbox). It must be open for reading.
    Fd(BorrowedFd<'a>),
}

/// Where the program's stdout or stderr goes (always cut at the output limit).
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    /// Kept in the `Outcome`.
    Capture,
    /// Written to this host file descriptor as it arrives. It must be open for writing. A
    /// sink that stops accepting data never holds the run past its wall-time limit: what
    /// cannot be written by then is dropped (and the stream reported truncated).
    Fd(BorrowedFd<'a>),
}

/// Check that a host descriptor given as input or output is open in the right direction.
/// Host descriptors given as a run's stdio must be open in the direction they are used.
pub(super) fn check_stdio(input: Input<'_>, out: Output<'_>, err: Output<'_>) -> Result<()> {
    if let Input::Fd(fd) = input {
        check_direction(fd, false, "stdin")?;
    }
    for (o, what) in [(out, "stdout"), (err, "stderr")] {
        if let Output::Fd(fd) = o {
            check_direction(fd, true, what)?;
        }
    }
    Ok(())
}

fn check_direction(fd: BorrowedFd<'_>, write: bool, what: &str) -> Result<()> {
    let mode = sys::access_mode(fd.as_raw_fd())
        .map_err(|e| Error::config(format!("{what}: bad file descriptor ({})", os_err(e))))?;
    let ok = if write {
        mode == libc::O_WRONLY || mode == libc::O_RDWR
    } else {
        mode == libc::O_RDONLY || mode == libc::O_RDWR
    };
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{what}: file descriptor {} is not open for {}",
            fd.as_raw_fd(),
            if write { "writing" } else { "reading" }
        )))
    }
}

const NAMESPACES: libc::c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP;

/// Stack of the setup process (it also holds the program's process's stack until it execs).
const SETUP_STACK: usize = 256 * 1024;

/// Setup stacks of finished launches, kept for later ones: a fresh mapping costs an `mmap`, an
/// `mprotect` for the guard page, the setup and program processes' first-touch page faults
/// (~20 in all) and an `munmap` whose TLB shootdown interrupts every CPU running a host thread
/// (~0.05 ms CPU per run together). What a stack holds from an earlier launch is host memory
/// that only the host and its own setup processes ever see. At most [`STACKS_KEPT`] (one per
/// launcher thread is all a process uses at once). Only `try_lock`ed: a host forked while
/// another thread held the lock never waits on it in the child (it maps a fresh stack).
static STACKS: std::sync::Mutex<Vec<sys::Stack>> = std::sync::Mutex::new(Vec::new());
const STACKS_KEPT: usize = 8;

/// A setup stack that goes back to [`STACKS`] when dropped (unmapped if the pool is full or
/// busy). Dropped only once no process runs on it, as a [`sys::Stack`].
struct KeptStack(Option<sys::Stack>);

impl KeptStack {
    fn take() -> Result<KeptStack> {
        let kept = STACKS.try_lock().ok().and_then(|mut v| v.pop());
        let stack = match kept {
            Some(s) => s,
            None => sys::Stack::new(SETUP_STACK).map_err(|e| Error::sys("mmap", os_err(e)))?,
        };
        Ok(KeptStack(Some(stack)))
    }
}

impl Drop for KeptStack {
    fn drop(&mut self) {
        if let Some(s) = self.0.take()
            && let Ok(mut v) = STACKS.try_lock()
            && v.len() < STACKS_KEPT
        {
            v.push(s);
        }
    }
}

pub(super) fn os_err(e: sys::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e)
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass fds freshly returned by the kernel that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

pub(super) fn pipe(flags: libc::c_int) -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = sys::pipe(flags).map_err(|e| Error::sys("pipe2", os_err(e)))?;
    Ok((owned(r), owned(w)))
}

/// Per-run C data: argv, envp and the exec candidates.
pub(super) struct ExecData {
    _strings: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    candidates: Vec<CString>,
    workdir: Option<CString>,
    /// The run's own mount and landlock plans, when the command carries mounts.
    run_plan: Option<super::RunPlan>,
    /// Host ids the caller leased for this run (otherwise the launch leases them).
    host_ids: Option<HostIdLease>,
    pub(super) program: String,
    /// Set by `warm` for a cell's own launch: the program's process arms and waits there.
    pub(super) warm: Option<std::sync::Arc<super::warm::Slot>>,
}

impl ExecData {
    pub(super) fn new(sb: &Sandbox, cmd: &Command) -> Result<ExecData> {
        let p = sb.prepared();
        let program = cmd.program.to_string_lossy().into_owned();
        let nul = |what: &str| Error::config(format!("{what} contains a NUL byte"));
        if cmd.program.is_empty() {
            return Err(Error::config("empty program name"));
        }
        let mut strings = Vec::with_capacity(cmd.args.len() + p.env.len() + 2);
        strings.push(CString::new(cmd.program.as_bytes()).map_err(|_| nul("program"))?);
        for a in &cmd.args {
            strings.push(CString::new(a.as_bytes()).map_err(|_| nul("argument"))?);
        }
        let argc = strings.len();
        let env = cmd.environment(&p.env)?;
        for (k, v) in &env {
            let mut kv = k.clone();
            kv.push(b'=');
            kv.extend_from_slice(v);
            strings.push(CString::new(kv).map_err(|_| nul("environment"))?);
        }
        let argv: Vec<_> = strings[..argc]
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp: Vec<_> = strings[argc..]
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let prog = cmd.program.as_bytes();
        let candidates = if prog.contains(&b'/') {
            vec![CString::new(prog).map_err(|_| nul("program"))?]
        } else {
            // Resolved against the sandbox's PATH, inside the sandbox's root.
            let dirs: Vec<Vec<u8>> = match env.get(b"PATH".as_slice()) {
                Some(path) => path
                    .split(|&b| b == b':')
                    .filter(|d| d.starts_with(b"/"))
                    .map(<[u8]>::to_vec)
                    .collect(),
                None => p.path_dirs.clone(),
            };
            dirs.into_iter()
                .map(|mut d| {
                    if !d.ends_with(b"/") {
                        d.push(b'/');
                    }
                    d.extend_from_slice(prog);
                    CString::new(d).map_err(|_| nul("program"))
                })
                .collect::<Result<Vec<_>>>()?
        };
        let workdir = match &cmd.dir {
            Some(d) => Some(CString::new(d.as_os_str().as_bytes()).map_err(|_| nul("directory"))?),
            None => None,
        };
        let run_plan = if cmd.mounts.is_empty() {
            None
        } else {
            Some(sb.plan_for_run(&cmd.mounts)?)
        };
        Ok(ExecData {
            _strings: strings,
            argv,
            envp,
            candidates,
            workdir,
            run_plan,
            host_ids: cmd.host_ids.clone(),
            program,
            warm: None,
        })
    }

    /// Whether this run has mounts of its own (a warm cell cannot take it).
    pub(super) fn has_run_plan(&self) -> bool {
        self.run_plan.is_some()
    }

    /// The exec candidates and the NULL-terminated argv and envp (a warm cell's job).
    pub(super) fn c_parts(&self) -> (&[CString], &[*const libc::c_char], &[*const libc::c_char]) {
        (&self.candidates, &self.argv, &self.envp)
    }
}

/// A started sandbox: the init process and the parent's ends of its pipes.
pub(super) struct Started {
    pub(super) pid: libc::pid_t,
    pub(super) pidfd: OwnedFd,
    pub(super) stdin: Option<OwnedFd>,
    pub(super) stdout: Option<OwnedFd>,
    pub(super) stderr: Option<OwnedFd>,
    pub(super) status: OwnedFd,
    /// Kept open for the whole run: the child checks it for a hang-up to learn whether the
    /// host died before the parent-death signal was armed.
    sync: OwnedFd,
    /// The setup process's stack, in the host's memory: given back (to [`STACKS`], or
    /// unmapped) only once no process of the sandbox can be running on it (both have exec'd,
    /// or the sandbox was reaped).
    stack: Option<KeptStack>,
    /// Nothing runs on `stack` any more (a warm job is over), but it is still held: it goes
    /// back with the final reap, on the reaper (see [`Started::over`]).
    stack_idle: bool,
    /// The host thread's signal mask, blocked from the clone until both execs (the setup
    /// process runs on this thread's TLS meanwhile, so no handler may run here).
    mask: Option<libc::sigset_t>,
    /// What this run mounted, when it had mounts of its own (the report shows them).
    run_mounts: Option<Vec<String>>,
    /// When the host asked init to end the run (see [`Started::end`]).
    end_requested: std::cell::Cell<Option<Instant>>,
    reaped: bool,
    /// The run's cgroup; back to the pool when this is dropped, after the reap.
    pub(super) lease: Option<Lease>,
    /// A warm cell: the exec pipe, whose end of file says the job's program was executed.
    pub(super) armed: Option<OwnedFd>,
    /// CPU time used before the job was handed over (a warm cell's own setup), not reported.
    pub(super) cpu_before: Duration,
    /// The sandbox's (or a warm cell's pool's) reaper: once init has reported the program's
    /// exit, the final reap (which waits for the kernel to tear the namespaces down) and the
    /// leases' return are sent there on drop (see `reaper`).
    pub(super) reaper: Option<std::sync::mpsc::Sender<super::reaper::Reap>>,
    /// The run's host ids; released when this is dropped, after the reap.
    pub(super) ids: Option<HostIdLease>,
    /// Keeps the host's memory non-dumpable (see `OwnerWindow`) while a process of this launch
    /// still shares it: until both have exec'd, which for a warm cell is after its job's
    /// handover. A process of the sandbox runs as the run's host uid, which owns the sandbox's
    /// user namespace; dumpable host memory would let any host process of that uid read or
    /// write it (ptrace, /proc/PID/mem) through the waiting program process.
    pub(super) window: Option<OwnerWindow>,
    /// Dropped on an async runtime: reap on its blocking pool instead of the runtime thread
    /// (the reap waits until the whole PID namespace is torn down, which can take a while).
    #[cfg(feature = "tokio")]
    pub(super) reap_off_thread: bool,
}

/// How long runcell-init gets to kill and reap the sandbox after the host asked it to end a
/// run, before the host kills PID 1 itself (usage is then only what was reaped so far).
const END_GRACE: Duration = Duration::from_secs(2);

impl Started {
    /// Kill everything now, PID 1 included (usage of processes not yet reaped is lost: use
    /// [`Started::end`] to end a run whose usage is reported).
    pub(super) fn kill(&self) {
        let _ = sys::pidfd_send_signal(self.pidfd.as_raw_fd(), libc::SIGKILL);
        if let Some(lease) = &self.lease {
            lease.kill();
        }
    }

    /// End the run: ask runcell-init (SIGUSR1) to kill every process of the sandbox and reap
    /// them, so that their CPU time and peak memory count in the outcome. The supervisor
    /// falls back to [`Started::kill`] at [`Started::escalation`].
    pub(super) fn end(&self) -> Result<()> {
        if self.end_requested.get().is_none() {
            self.end_requested.set(Some(Instant::now()));
            sys::pidfd_send_signal(self.pidfd.as_raw_fd(), libc::SIGUSR1)
                .map_err(|e| Error::sys("pidfd_send_signal", os_err(e)))?;
        }
        Ok(())
    }

    /// When a requested end is overdue and PID 1 is to be killed outright.
    pub(super) fn escalation(&self) -> Option<Instant> {
        self.end_requested.get().map(|t| t + END_GRACE)
    }

    /// Kill PID 1 if an end was requested and is overdue.
    pub(super) fn escalate_if_due(&self, now: Instant) {
        if self.escalation().is_some_and(|at| now >= at) {
            self.kill();
        }
    }

    /// End the sandbox now, reporting a failure (the handles' `kill`).
    pub(super) fn try_kill(&self) -> Result<()> {
        self.end()
    }

    /// The status records, once every process of the sandbox is gone (the pipe is at end of
    /// file then).
    pub(super) fn records_after_exit(&self) -> Vec<u8> {
        let mut records = Vec::new();
        let mut buf = [0u8; RECORD_LEN * 4];
        loop {
            match sys::retry(|| sys::read(self.status.as_raw_fd(), &mut buf)) {
                // End of file, or nothing (a non-blocking pipe whose writers are gone).
                Ok(0) | Err(_) => break,
                Ok(n) => records.extend_from_slice(&buf[..n]),
            }
        }
        records
    }

    /// Reap PID 1 through its pidfd. `None` when something else in the host reaped it first
    /// (a host that ignores SIGCHLD: exec made init an ordinary SIGCHLD child); the outcome
    /// then comes from init's records alone.
    pub(super) fn reap(&mut self) -> Result<Option<(i32, libc::rusage)>> {
        let reaped = match sys::waitid_pidfd(self.pidfd.as_raw_fd()) {
            Ok(v) => Some(v),
            Err(libc::ECHILD) => None,
            Err(e) => return Err(Error::sys("waitid", os_err(e))),
        };
        self.reaped = true;
        // When PID 1 is reaped the kernel has already torn down the whole PID namespace.
        self.stack = None;
        self.release_signals();
        Ok(reaped)
    }

    /// The host's end of the sync pipe (a warm cell's job is released there).
    pub(super) fn sync_fd(&self) -> RawFd {
        self.sync.as_raw_fd()
    }

    /// Both processes have exec'd: nothing runs on the stack or this thread's TLS any more.
    pub(super) fn launched(&mut self) {
        self.stack = None;
        self.window = None;
        self.release_signals();
    }

    /// A warm job handed over without waiting for its exec is over (init reported every process
    /// reaped): its program's process has exec'd or is gone, so nothing runs on the stack or
    /// this thread's TLS any more. As [`Started::launched`], but the stack is given back with
    /// the final reap on the reaper: unmapping it here (when [`STACKS`] is full: a TLB
    /// shootdown across the cores that ran the host's threads) was on the caller's path.
    pub(super) fn over(&mut self) {
        self.stack_idle = true;
        self.window = None;
        self.release_signals();
    }

    fn release_signals(&mut self) {
        if let Some(old) = self.mask.take() {
            sys::restore_signals(&old);
        }
    }
}

impl Drop for Started {
    /// Whatever happened, nothing of the sandbox outlives its handle.
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            if let Some(reaper) = self.reaper.take()
                && (self.stack.is_none() || self.stack_idle)
                && let Ok(pidfd) = self.pidfd.try_clone()
            {
                // The leases go back only after the reap (the kernel's counts charged to
                // the host uid last until the namespaces are gone).
                let lease = self.lease.take();
                let ids = self.ids.take();
                let window = self.window.take();
                let stack = self.stack.take();
                self.reaped = true;
                let reap: Box<dyn FnOnce() + Send> = Box::new(move || {
                    let _ = sys::waitid_pidfd(pidfd.as_raw_fd());
                    drop((lease, ids, window, stack));
                });
                // A reaper being shut down takes nothing more: reap here.
                match reaper.send(reap) {
                    Ok(()) => return,
                    Err(std::sync::mpsc::SendError(reap)) => {
                        reap();
                        return;
                    }
                }
            }
            #[cfg(feature = "tokio")]
            if self.reap_off_thread
                && self.stack.is_none()
                && let Ok(rt) = tokio::runtime::Handle::try_current()
                && let Ok(pidfd) = self.pidfd.try_clone()
            {
                // The leases are released only after the reap.
                let lease = self.lease.take();
                let ids = self.ids.take();
                let window = self.window.take();
                self.reaped = true;
                rt.spawn_blocking(move || {
                    let _ = sys::waitid_pidfd(pidfd.as_raw_fd());
                    drop((lease, ids, window));
                });
                return;
            }
            // Reaped before the stack is unmapped (field order would drop it after).
            let _ = sys::waitid_pidfd(self.pidfd.as_raw_fd());
            self.stack = None;
            self.release_signals();
        }
    }
}

/// Clone the child, write its id maps, release it, and wait until the program has been
/// executed (or its setup failed).
/// [`start`] on a launcher thread (see `launcher`): the sandbox lives as long as the process,
/// whichever thread asked for it.
fn start_on_launcher(sb: &Sandbox, cmd: &Command, deadline: Instant) -> Result<Started> {
    let (sb, cmd) = (sb.clone(), absolute_sources(cmd));
    super::launcher::call(move || {
        let exec = ExecData::new(&sb, &cmd)?;
        start(&sb, &exec, deadline)
    })
}

/// `cmd` with its relative bind sources made absolute from this (the calling) thread's working
/// directory: a launcher thread's may differ (see `launcher`). A source whose directory cannot
/// be read is left as it is (the launch reports it).
pub(super) fn absolute_sources(cmd: &Command) -> Command {
    let mut cmd = cmd.clone();
    let relative = |m: &super::rootfs::Mount| !m.src.as_os_str().is_empty() && m.src.is_relative();
    if cmd.mounts.iter().any(relative)
        && let Ok(cwd) = std::env::current_dir()
    {
        for m in cmd.mounts.iter_mut().filter(|m| relative(m)) {
            m.src = cwd.join(&m.src);
        }
    }
    cmd
}

/// Launch and wait until the program runs. Only on a launcher thread, or on the calling
/// thread of a `single_run` sandbox's [`run`] (see [`start_here`]).
pub(super) fn start(sb: &Sandbox, exec: &ExecData, deadline: Instant) -> Result<Started> {
    launch(sb, exec, deadline)
}

/// The child reported a setup failure: kill and reap it, and name what failed.
pub(super) fn exec_failed(
    sb: &Sandbox,
    exec: &ExecData,
    started: &mut Started,
    rec: &[u8; RECORD_LEN],
) -> Error {
    let (_, step, errno, index) = child::decode(rec);
    started.kill();
    let _ = started.reap();
    setup_error(sb, exec, step, errno, index)
}

/// The setup itself ran past the wall time.
pub(super) fn setup_timeout() -> Error {
    Error::Setup {
        step: Step::Exec,
        detail: Some("setup did not finish within the wall-time limit".into()),
        source: os_err(libc::ETIMEDOUT),
    }
}

/// Kernel budgets of the sandbox's own user namespace, written by the setup process before it
/// drops its capabilities there. User-namespace counters are charged to every ancestor
/// namespace's owner as well, so these caps bound what one sandbox can take from the host user
/// that created it (host root, for a root host): a sandbox can hold at most this many inotify
/// instances, and can create no namespace at all. Files the kernel lacks are skipped.
fn budgets(nested_namespaces: bool) -> &'static [(CString, CString)] {
    static BUDGETS: std::sync::OnceLock<Vec<(CString, CString)>> = std::sync::OnceLock::new();
    let all = BUDGETS.get_or_init(|| {
        [
            ("max_inotify_instances", "16"),
            ("max_inotify_watches", "8192"),
            ("max_fanotify_groups", "0"),
            ("max_fanotify_marks", "0"),
            ("max_user_namespaces", "0"),
            ("max_pid_namespaces", "0"),
            ("max_net_namespaces", "0"),
            ("max_mnt_namespaces", "0"),
            ("max_ipc_namespaces", "0"),
            ("max_uts_namespaces", "0"),
            ("max_cgroup_namespaces", "0"),
            ("max_time_namespaces", "0"),
        ]
        .iter()
        .filter_map(|(name, value)| {
            let path = CString::new(format!("/proc/sys/user/{name}")).ok()?;
            Some((path, CString::new(*value).ok()?))
        })
        .collect()
    });
    // The namespace budgets come last: a sandbox allowed to nest keeps only the others.
    if nested_namespaces { &all[..4] } else { all }
}

/// Clone the setup process, write its id maps and release it. Returns the read end of the exec
/// pipe: end of file there means init and the program are running, a record that setup failed.
///
/// The setup process is a `CLONE_VM` child on its own stack: nothing of the host is copied. It
/// runs on this thread's TLS until it execs runcell-init, so from the clone until the exec pipe
/// reaches end of file (see [`start`]) this thread keeps every signal blocked and makes no call
/// that could race it (the blocking handshake below). A host that is neither root nor dumpable
/// cannot write the id maps of a process sharing its memory (its /proc files belong to root,
/// and making it dumpable would make the host dumpable): there the setup process is a
/// fork-like copy, which makes only itself dumpable.
fn launch(sb: &Sandbox, exec: &ExecData, deadline: Instant) -> Result<Started> {
    let p = sb.prepared();
    let profile = sb.profile();
    let (stdin_r, stdin_w) = pipe(0)?;
    let (stdout_r, stdout_w) = pipe(0)?;
    let (stderr_r, stderr_w) = pipe(0)?;
    let (exec_r, exec_w) = pipe(0)?;
    let (sync_r, sync_w) = pipe(0)?;
    let (status_r, status_w) = pipe(0)?;
    let init_fd = super::init::fd()?;
    let raw = [
        stdin_r.as_raw_fd(),
        stdout_w.as_raw_fd(),
        stderr_w.as_raw_fd(),
        exec_w.as_raw_fd(),
        sync_r.as_raw_fd(),
        status_w.as_raw_fd(),
    ];
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    // SAFETY: getegid has no preconditions.
    let egid = unsafe { libc::getegid() };
    let host_root = euid == 0;
    // SAFETY: PR_GET_DUMPABLE takes no pointer arguments.
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE) } == 1;
    // Host root writes the id maps whatever the dumpable setting (which concurrent launches
    // change for a moment, see `OwnerWindow`).
    let announce_ready = !dumpable && !host_root;
    let root = exec.run_plan.as_ref().map_or(&p.root, |r| &r.root);
    let mut scratch = vec![-1; root.sources.len()];
    // Taken before the clone so a failure leaves no child behind (the host ids first: an
    // exhausted range fails before any cgroup lease).
    let ids = match &exec.host_ids {
        Some(l) => l.clone(),
        None => sb.lease_host_ids()?,
    };
    let lease = p.cgroups.as_ref().map(|pool| pool.acquire()).transpose()?;
    // v1: the setup process joins its leaf itself (see `Lease::self_join_fds`).
    let self_join = lease.as_ref().map_or_else(Vec::new, |l| l.self_join_fds());
    let loopback = profile.network == crate::profile::Network::Loopback;
    // A root host joins a network namespace made ahead of time for this one clone (see
    // `netns`); otherwise, or when none is ready, the clone makes its own.
    let pooled_netns = if host_root && sb.netns_pool() {
        super::netns::take(loopback)
    } else if host_root {
        p.netns_ahead.as_ref().and_then(super::netns::Ahead::take)
    } else {
        None
    };
    // This thread alone, until just after the clone: the setup process inherits it.
    let joined = pooled_netns.as_ref().and_then(super::netns::Joined::enter);
    // A root host clones the sandbox's mount namespace from the root's template (made by
    // the first run), joined the same way, unless the run has mounts of its own.
    let template = if host_root && exec.run_plan.is_none() && !sb.single_run() {
        p.root.template.get(&p.root)
    } else {
        None
    };
    let in_template = template
        .as_ref()
        .and_then(super::rootfs::template::Joined::enter);
    let plan = ChildPlan {
        fds: ChildFds {
            stdin: raw[0],
            stdout: raw[1],
            stderr: raw[2],
            exec: raw[3],
            sync: raw[4],
            status: raw[5],
            init: init_fd,
            above: raw.iter().copied().max().unwrap_or(2).max(init_fd).max(8) + 1,
        },
        uid: profile.uid,
        gid: profile.gid,
        clear_groups: host_root,
        cgroup_ns: p.cgroups.is_some(),
        cgroup_join: &self_join,
        announce_ready,
        root,
        template: in_template.is_some(),
        scratch: std::cell::Cell::new(&mut scratch),
        hostname: &p.hostname,
        // A pooled namespace comes with loopback as asked (the sandbox cannot change it).
        loopback: loopback && joined.is_none(),
        workdir: exec.workdir.as_deref().unwrap_or(&p.workdir),
        rlimits: &p.rlimits,
        last_cap: p.last_cap,
        budgets: budgets(sb.nested_namespaces()),
        landlock: match &exec.run_plan {
            Some(r) => r.landlock.as_ref(),
            None => p.landlock.as_ref(),
        },
        seccomp: &p.seccomp,
        seccomp_listener: p.seccomp_listener,
        candidates: &exec.candidates,
        argv: &exec.argv,
        envp: &exec.envp,
        warm: exec.warm.as_deref(),
    };

    let shared_vm = dumpable || host_root;
    let stack = if shared_vm {
        Some(KeptStack::take()?)
    } else {
        None
    };
    // A root host clones as the run's leased host uid (this thread only), so that the new user
    // namespace, and what the kernel counts for it, belongs to that uid instead of root. Fixed
    // ids (an explicit choice, possibly an id host services run as) never own a namespace:
    // root keeps owning it. Kept in `started` until no process of the launch shares the
    // host's memory.
    let mut window = if host_root {
        Some(OwnerWindow::open(ids.is_leased().then(|| ids.uid()))?)
    } else {
        None
    };
    let flags = if joined.is_some() {
        NAMESPACES & !libc::CLONE_NEWNET
    } else {
        NAMESPACES
    };
    let old_mask = sys::block_all_signals();
    let cloned = match &stack {
        // (`KeptStack` holds its stack until dropped.)
        Some(KeptStack(Some(stack))) => sys::clone_vm(stack, flags, || child::run(&plan)),
        Some(KeptStack(None)) => Err(libc::EINVAL),
        None => match sys::clone_pidfd(flags as u64) {
            Ok(None) => child::run(&plan),
            Ok(Some(v)) => Ok(v),
            Err(e) => Err(e),
        },
    };
    let back = window.as_mut().map_or(Ok(()), OwnerWindow::cloned);
    // Back in this thread's own namespaces; the sandbox holds the only references left.
    drop(in_template);
    drop(joined);
    drop(pooled_netns);
    let (pid, pidfd) = match cloned {
        Ok(v) => v,
        Err(e) => {
            sys::restore_signals(&old_mask);
            return Err(Error::sys("clone", os_err(e)));
        }
    };
    let mut started = Started {
        pid,
        pidfd: owned(pidfd),
        stack,
        mask: Some(old_mask),
        run_mounts: exec.run_plan.as_ref().map(|r| r.root.mounted.clone()),
        end_requested: std::cell::Cell::new(None),
        stdin: Some(stdin_w),
        stdout: Some(stdout_r),
        stderr: Some(stderr_r),
        status: status_r,
        sync: sync_w,
        reaped: false,
        stack_idle: false,
        lease,
        armed: None,
        cpu_before: Duration::ZERO,
        reaper: None,
        ids: Some(ids.clone()),
        window: None,
        #[cfg(feature = "tokio")]
        reap_off_thread: false,
    };
    drop((stdin_r, stdout_w, stderr_w, exec_w, sync_r, status_w));
    back?;
    started.window = window;

    let mut rec = [0u8; RECORD_LEN];
    if announce_ready {
        read_record(&exec_r, &mut rec, deadline)?;
        if child::decode(&rec).0 != child::REC_READY {
            return Err(exec_failed(sb, exec, &mut started, &rec));
        }
    }

    // Id maps: one uid and one gid. Host root maps to the run's leased (or fixed) host ids,
    // an unprivileged host to itself.
    let (host_uid, host_gid) = if host_root {
        (ids.uid(), ids.gid())
    } else {
        (euid, egid)
    };
    let proc_dir = format!("/proc/{pid}");
    let write_map = |file: &str, content: String| -> Result<()> {
        std::fs::write(format!("{proc_dir}/{file}"), content).map_err(|e| Error::Sys {
            syscall: "write id map",
            source: e,
        })
    };
    if !host_root {
        write_map("setgroups", "deny".into())?;
    }
    write_map("uid_map", format!("{} {} 1\n", profile.uid, host_uid))?;
    write_map("gid_map", format!("{} {} 1\n", profile.gid, host_gid))?;
    // Into the cgroup before the child goes on: everything it starts inherits it (v1: the
    // child has joined itself before anything else).
    if let Some(lease) = &started.lease
        && self_join.is_empty()
    {
        lease.join(pid)?;
    }
    sys::write_all(started.sync.as_raw_fd(), b"1")
        .map_err(|e| Error::sys("write sync pipe", os_err(e)))?;
    // Wait here, not in a caller: the setup process reads `plan` (and `scratch`) in this
    // frame, shared memory, until it has exec'd. End of file on the exec pipe: both exec'd.
    if read_record(&exec_r, &mut rec, deadline)? {
        if exec.warm.is_some() && child::decode(&rec).0 == child::REC_ARMED {
            // A warm cell: only the program's process still runs on the stack (and on this
            // thread's TLS, without touching it), blocked until its job is handed over.
            started.release_signals();
            started.armed = Some(exec_r);
            // The CPU time of the cell's own setup, which the job's report leaves out.
            let (_, _, hi, lo) = child::decode(&rec);
            started.cpu_before = Duration::from_nanos((u64::from(hi as u32) << 32) | u64::from(lo));
            return Ok(started);
        }
        return Err(exec_failed(sb, exec, &mut started, &rec));
    }
    if exec.warm.is_some() {
        // Ended without arming: cannot happen unless the cell was killed.
        started.kill();
        let _ = started.reap();
        return Err(Error::sys("warm cell", os_err(libc::ECHILD)));
    }
    started.launched();
    Ok(started)
}

/// Read one record from the exec pipe; false on EOF. Fails past the deadline.
pub(super) fn read_record(
    fd: &OwnedFd,
    rec: &mut [u8; RECORD_LEN],
    deadline: Instant,
) -> Result<bool> {
    let mut got = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let mut pfd = [libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        match sys::poll(&mut pfd, ms_ceil(remaining)) {
            Ok(0) => return Err(setup_timeout()),
            Ok(_) => {}
            Err(libc::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", os_err(e))),
        }
        match sys::retry(|| sys::read(fd.as_raw_fd(), &mut rec[got..])) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(Error::sys("read exec pipe", os_err(libc::EIO))),
            Ok(n) => {
                got += n;
                if got == RECORD_LEN {
                    return Ok(true);
                }
            }
            Err(e) => return Err(Error::sys("read exec pipe", os_err(e))),
        }
    }
}

pub(super) fn setup_error(
    sb: &Sandbox,
    exec: &ExecData,
    step: u32,
    errno: i32,
    index: u32,
) -> Error {
    let program = exec.program.as_str();
    let step = Step::from_u32(step).unwrap_or(Step::Exec);
    let plan = exec
        .run_plan
        .as_ref()
        .map_or(&sb.prepared().root, |r| &r.root);
    let landlock = match &exec.run_plan {
        Some(r) => r.landlock.as_ref(),
        None => sb.prepared().landlock.as_ref(),
    };
    match (step, errno) {
        (Step::Exec, libc::ENOENT) | (Step::Exec, libc::ENOTDIR) => Error::ProgramNotFound {
            program: program.to_string(),
        },
        (Step::Exec, libc::EACCES) | (Step::Exec, libc::ENOEXEC) | (Step::Exec, libc::EISDIR) => {
            Error::NotExecutable {
                program: program.to_string(),
                source: os_err(errno),
            }
        }
        (Step::Mount, _) | (Step::BindSource, _) => Error::Setup {
            step,
            detail: plan.describe(step == Step::BindSource, index),
            source: os_err(errno),
        },
        (Step::Landlock, _) => Error::Setup {
            step,
            detail: landlock
                .and_then(|l| l.rules.get(index as usize))
                .map(|(p, _)| format!("rule for {}", p.to_string_lossy())),
            source: os_err(errno),
        },
        _ => Error::Setup {
            step,
            detail: None,
            source: os_err(errno),
        },
    }
}

fn ms_ceil(d: Duration) -> libc::c_int {
    let ms = d.as_nanos().div_ceil(1_000_000);
    ms.min(i32::MAX as u128) as libc::c_int
}

/// What was kept of one output stream.
#[derive(Debug, Default)]
pub(super) struct Captured {
    pub buf: Vec<u8>,
    pub kept: u64,
    /// Something was not delivered: cut at the cap, or dropped by a stalled sink.
    pub truncated: bool,
    /// The output limit was exceeded.
    capped: bool,
}

impl Captured {
    /// Keep `data` (in the buffer or forwarded to `sink`) up to `cap` bytes in all; returns
    /// true when the cap was exceeded. Forwarding waits for a slow sink until `deadline` at
    /// most; what it could not write by then is dropped and the stream marked truncated.
    pub(super) fn take(
        &mut self,
        data: &[u8],
        cap: u64,
        sink: Output<'_>,
        deadline: Instant,
    ) -> bool {
        let room = cap.saturating_sub(self.kept) as usize;
        let take = data.len().min(room);
        if take > 0 {
            match sink {
                Output::Capture => self.buf.extend_from_slice(&data[..take]),
                Output::Fd(out) => {
                    // A host sink that went away (closed pipe) is not the program's fault:
                    // stop forwarding, keep counting.
                    if let Err(libc::ETIMEDOUT) =
                        write_until(out.as_raw_fd(), &data[..take], deadline)
                    {
                        self.truncated = true;
                    }
                }
            }
            self.kept += take as u64;
        }
        if data.len() > take {
            self.truncated = true;
            self.capped = true;
        }
        self.capped
    }
}

/// One output stream being collected.
struct Stream<'a> {
    fd: Option<OwnedFd>,
    sink: Output<'a>,
    got: Captured,
}

impl Stream<'_> {
    /// Read what is available; returns true when the cap was exceeded.
    fn pump(&mut self, scratch: &mut [u8], cap: u64, deadline: Instant) -> Result<bool> {
        let Some(fd) = &self.fd else { return Ok(false) };
        match sys::retry(|| sys::read(fd.as_raw_fd(), scratch)) {
            Ok(0) => {
                self.fd = None;
                Ok(false)
            }
            Ok(n) => Ok(self.got.take(&scratch[..n], cap, self.sink, deadline)),
            Err(libc::EAGAIN) => Ok(false),
            Err(e) => Err(Error::sys("read output pipe", os_err(e))),
        }
    }
}

/// Write all of `buf` to a host descriptor that may be blocking and slow, never past
/// `deadline`: wait for room with poll, then write at most PIPE_BUF bytes (which a pipe with
/// room accepts without blocking). ETIMEDOUT when the deadline came first.
fn write_until(fd: RawFd, mut buf: &[u8], deadline: Instant) -> sys::SysResult<()> {
    while !buf.is_empty() {
        let mut pfd = [libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        }];
        let wait = ms_ceil(deadline.saturating_duration_since(Instant::now()));
        match sys::poll(&mut pfd, wait) {
            Ok(0) => return Err(libc::ETIMEDOUT),
            Ok(_) => {}
            Err(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
        if pfd[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            return Err(libc::EPIPE);
        }
        match sys::write_nosigpipe(fd, &buf[..buf.len().min(libc::PIPE_BUF)]) {
            Ok(0) => return Err(libc::EIO),
            Ok(n) => buf = &buf[n..],
            Err(libc::EINTR) | Err(libc::EAGAIN) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Feeding the program's stdin.
struct Feeder<'a> {
    fd: Option<OwnedFd>,
    input: Input<'a>,
    offset: usize,
    pending: Vec<u8>,
    source_eof: bool,
}

impl Feeder<'_> {
    /// What to poll for: (our pipe for POLLOUT?, the host source for POLLIN?).
    fn wants(&self) -> (bool, bool) {
        if self.fd.is_none() {
            return (false, false);
        }
        match self.input {
            Input::Bytes(_) => (true, false),
            Input::Fd(_) => (
                !self.pending.is_empty(),
                self.pending.is_empty() && !self.source_eof,
            ),
        }
    }

    fn close(&mut self) {
        self.fd = None;
    }

    fn fill(&mut self, scratch: &mut [u8]) {
        if let Input::Fd(src) = self.input {
            match sys::retry(|| sys::read(src.as_raw_fd(), scratch)) {
                Ok(0) | Err(_) => {
                    self.source_eof = true;
                    self.close();
                }
                Ok(n) => self.pending.extend_from_slice(&scratch[..n]),
            }
        }
    }

    fn push(&mut self) {
        let Some(fd) = &self.fd else { return };
        let data: &[u8] = match self.input {
            Input::Bytes(b) => &b[self.offset..],
            Input::Fd(_) => &self.pending,
        };
        if data.is_empty() {
            if matches!(self.input, Input::Bytes(_)) {
                self.close();
            }
            return;
        }
        match sys::write_nosigpipe(fd.as_raw_fd(), &data[..data.len().min(1 << 16)]) {
            Ok(n) => match self.input {
                Input::Bytes(b) => {
                    self.offset += n;
                    if self.offset >= b.len() {
                        self.close();
                    }
                }
                Input::Fd(_) => {
                    self.pending.drain(..n);
                }
            },
            Err(libc::EAGAIN) | Err(libc::EINTR) => {}
            // EPIPE: the program does not want more input.
            Err(_) => self.close(),
        }
    }
}

/// Run to completion with the given stdio handling.
pub(crate) fn run(
    sb: &Sandbox,
    cmd: &Command,
    input: Input<'_>,
    out: Output<'_>,
    err: Output<'_>,
    cancel: Option<BorrowedFd<'_>>,
) -> Result<Outcome> {
    check_stdio(input, out, err)?;
    run_started(sb, input, out, err, cancel, |deadline| {
        if sb.single_run() {
            start_here(sb, cmd, deadline)
        } else {
            start_on_launcher(sb, cmd, deadline)
        }
    })
}

/// [`start`] on the calling thread, for a `single_run` sandbox's [`run`] (the CLI): no
/// launcher thread to start and hand the job to. The reasons for launcher threads do not
/// apply to a run that is over before it returns: the calling thread stays blocked in `run`
/// until the sandbox is reaped (so the parent-death signal, tied to it, cannot fire early),
/// and `launch` blocks every signal on it from the clone until both processes have exec'd
/// (no host signal handler runs on the TLS the setup process borrows), as on a launcher
/// thread. A template is never joined (`single_run` builds its root from the host's), so the
/// thread's root, working directory and umask stay its own.
fn start_here(sb: &Sandbox, cmd: &Command, deadline: Instant) -> Result<Started> {
    let exec = ExecData::new(sb, cmd)?;
    start(sb, &exec, deadline)
}

/// [`run`] of a sandbox that `start` starts (a cold launch, or a warm cell's handover), the
/// wall time counted from the call. `cancel`: once it polls readable, hung up or in error
/// before the program's exit, the whole tree is killed as at the wall-time limit, reaped and
/// cleaned up as usual, and the run returns [`Error::Cancelled`].
pub(super) fn run_started(
    sb: &Sandbox,
    input: Input<'_>,
    out: Output<'_>,
    err: Output<'_>,
    cancel: Option<BorrowedFd<'_>>,
    start: impl FnOnce(Instant) -> Result<Started>,
) -> Result<Outcome> {
    let begin = Instant::now();
    let limits = sb.limits().clone();
    let deadline = begin + limits.wall_time;
    let mut started = match start(deadline) {
        Ok(s) => s,
        // An overloaded host can use up the whole wall time before the program even starts:
        // that is the wall-time limit, not a configuration error (the child is already
        // killed and reaped).
        Err(e) if is_setup_timeout(&e) => return Ok(timed_out_in_setup(sb, begin.elapsed())),
        Err(e) => return Err(e),
    };
    // The run is over at init's exit record; init's own exit and the namespaces' teardown
    // are the reaper's (a warm cell's pool has its own).
    if started.reaper.is_none() {
        started.reaper = sb.reaper();
    }
    let cap = limits.output;

    let stdin_fd = started.stdin.take();
    let (stdout_fd, stderr_fd) = (started.stdout.take(), started.stderr.take());
    for fd in [&stdin_fd, &stdout_fd, &stderr_fd].into_iter().flatten() {
        sys::set_nonblocking(fd.as_raw_fd(), true).map_err(|e| Error::sys("fcntl", os_err(e)))?;
    }
    let mut feeder = Feeder {
        fd: stdin_fd,
        input,
        offset: 0,
        pending: Vec::new(),
        source_eof: false,
    };
    let mut streams = [
        Stream {
            fd: stdout_fd,
            sink: out,
            got: Captured::default(),
        },
        Stream {
            fd: stderr_fd,
            sink: err,
            got: Captured::default(),
        },
    ];
    let mut scratch = vec![0u8; 1 << 16];
    let mut status_buf = Vec::with_capacity(RECORD_LEN * 2);
    let mut status_open = true;
    let mut exited = false;
    let mut wall_killed = false;
    let mut output_killed = false;
    let mut cancelled = false;
    let mut drain_deadline: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if !exited && !wall_killed && now >= deadline {
            started.end()?;
            wall_killed = true;
        }
        if !exited {
            started.escalate_if_due(now);
        }
        if exited && streams.iter().all(|s| s.fd.is_none()) && !status_open {
            break;
        }
        if let Some(d) = drain_deadline
            && now >= d
        {
            // Something outside the sandbox still holds a pipe end; stop waiting for it.
            break;
        }
        let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(7);
        let mut slots: [Option<usize>; 7] = [None; 7];
        let mut add =
            |slot: usize, fd: RawFd, events: libc::c_short, pfds: &mut Vec<libc::pollfd>| {
                slots[slot] = Some(pfds.len());
                pfds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
            };
        if !exited {
            add(0, started.pidfd.as_raw_fd(), libc::POLLIN, &mut pfds);
        }
        for (i, s) in streams.iter().enumerate() {
            if let Some(fd) = &s.fd {
                add(1 + i, fd.as_raw_fd(), libc::POLLIN, &mut pfds);
            }
        }
        if status_open {
            add(3, started.status.as_raw_fd(), libc::POLLIN, &mut pfds);
        }
        if !exited {
            let (want_out, want_src) = feeder.wants();
            if want_out && let Some(fd) = &feeder.fd {
                add(4, fd.as_raw_fd(), libc::POLLOUT, &mut pfds);
            }
            if want_src && let Input::Fd(src) = feeder.input {
                add(5, src.as_raw_fd(), libc::POLLIN, &mut pfds);
            }
            // Polled until it fires once (a hung-up descriptor stays ready).
            if !cancelled && let Some(c) = cancel {
                add(6, c.as_raw_fd(), libc::POLLIN, &mut pfds);
            }
        }
        let timeout = match (exited || wall_killed, drain_deadline) {
            (_, Some(d)) => ms_ceil(d.saturating_duration_since(now)),
            (false, None) => ms_ceil(deadline.saturating_duration_since(now)),
            (true, None) => -1,
        };
        let timeout = match started.escalation().filter(|_| !exited) {
            Some(at) => {
                let t = ms_ceil(at.saturating_duration_since(now));
                if timeout < 0 { t } else { timeout.min(t) }
            }
            None => timeout,
        };
        match sys::poll(&mut pfds, timeout) {
            Ok(_) => {}
            Err(libc::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", os_err(e))),
        }
        let ready = |slot: usize| slots[slot].map(|i| pfds[i].revents).unwrap_or(0);
        for (i, stream) in streams.iter_mut().enumerate() {
            // Past the deadline, forwarding only takes what the sink accepts at once.
            let write_by = if wall_killed { now } else { deadline };
            if ready(1 + i) != 0 && stream.pump(&mut scratch, cap, write_by)? && !output_killed {
                started.end()?;
                output_killed = true;
            }
        }
        if ready(3) != 0 {
            match sys::retry(|| {
                sys::read(started.status.as_raw_fd(), &mut scratch[..RECORD_LEN * 4])
            }) {
                Ok(0) | Err(_) => status_open = false,
                Ok(n) => status_buf.extend_from_slice(&scratch[..n]),
            }
            // init has reported the program's exit, which it does once every process of the
            // sandbox is reaped: the run is over; init's own exit and the namespaces' teardown
            // are left to the reaper (see `finish`).
            if !exited && started.reaper.is_some() && has_exit(&status_buf) {
                exited = true;
                status_open = false;
                feeder.close();
                drain_deadline = Some(Instant::now() + Duration::from_secs(2));
            }
        }
        if ready(5) != 0 {
            feeder.fill(&mut scratch);
        }
        if ready(4) != 0 {
            if ready(4) & (libc::POLLERR | libc::POLLHUP) != 0 {
                feeder.close();
            } else {
                feeder.push();
            }
        }
        if ready(6) != 0 && !exited && !cancelled {
            started.end()?;
            cancelled = true;
        }
        if ready(0) != 0 {
            exited = true;
            feeder.close();
            drain_deadline = Some(Instant::now() + Duration::from_secs(2));
        }
    }
    drop(feeder);
    // A warm job handed over without waiting for its exec: its program process has exec'd or
    // is gone by now (the job is over), so nothing runs on the launch's stack any more; it is
    // given back with the final reap (a cold launch returned only after both execs: nothing
    // changes).
    if started.reaper.is_some() {
        started.over();
    }
    let [out, err] = streams;
    let outcome = finish(
        sb,
        &mut started,
        &status_buf,
        begin,
        wall_killed,
        output_killed,
        [out.got, err.got],
    )?;
    if cancelled {
        return Err(Error::Cancelled);
    }
    Ok(outcome)
}

pub(super) fn is_setup_timeout(e: &Error) -> bool {
    matches!(e, Error::Setup { step: Step::Exec, source, .. }
        if source.raw_os_error() == Some(libc::ETIMEDOUT))
}

pub(super) fn timed_out_in_setup(sb: &Sandbox, wall_time: Duration) -> Outcome {
    Outcome {
        verdict: Verdict::WallTimeLimit,
        exit_code: None,
        signal: Some(libc::SIGKILL),
        wall_time,
        cpu_time: Duration::ZERO,
        max_rss_kib: 0,
        max_memory_kib: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        stdout_bytes: 0,
        stderr_bytes: 0,
        stdout_truncated: false,
        stderr_truncated: false,
        violation: None,
        enforced: sb.prepared().enforced.clone(),
    }
}

/// Reap the sandbox and turn what happened into an `Outcome`.
/// Whether init's records hold the program's exit status.
fn has_exit(records: &[u8]) -> bool {
    records.chunks_exact(RECORD_LEN).any(|c| {
        let mut rec = [0u8; RECORD_LEN];
        rec.copy_from_slice(c);
        child::decode(&rec).0 == child::REC_EXIT_STATUS
    })
}

pub(super) fn finish(
    sb: &Sandbox,
    started: &mut Started,
    records: &[u8],
    begin: Instant,
    wall_killed: bool,
    output_killed: bool,
    streams: [Captured; 2],
) -> Result<Outcome> {
    // With init's exit record in, PID 1 is reaped by the reaper thread (the kernel tears the
    // namespaces down meanwhile); otherwise here.
    let reaped = if started.reaper.is_some() && has_exit(records) {
        None
    } else {
        started.reaper = None;
        started.reap()?
    };
    let wall_time = begin.elapsed();
    let cgroup = started.lease.as_ref().map(Lease::usage);
    let mut o = outcome(
        sb,
        reaped,
        cgroup,
        records,
        wall_time,
        wall_killed,
        output_killed,
        streams,
    );
    if let Some(m) = &started.run_mounts {
        o.enforced.mounts = m.clone();
    }
    o.cpu_time = o.cpu_time.saturating_sub(started.cpu_before);
    if let Some(ids) = &started.ids {
        (o.enforced.host_uid, o.enforced.host_gid) = (ids.uid(), ids.gid());
    }
    Ok(o)
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

#[allow(clippy::too_many_arguments)]
fn outcome(
    sb: &Sandbox,
    reaped: Option<(i32, libc::rusage)>,
    cgroup: Option<Usage>,
    records: &[u8],
    wall_time: Duration,
    wall_killed: bool,
    output_killed: bool,
    streams: [Captured; 2],
) -> Outcome {
    let limits = sb.limits();
    let mut payload_status = None;
    let mut violation = None;
    let mut reported_usage = None;
    for chunk in records.chunks_exact(RECORD_LEN) {
        let mut rec = [0u8; RECORD_LEN];
        rec.copy_from_slice(chunk);
        let (kind, _step, value, index) = child::decode(&rec);
        match kind {
            child::REC_EXIT_STATUS => payload_status = Some(value),
            child::REC_USAGE => reported_usage = Some(child::decode_usage(&rec)),
            child::REC_VIOLATION => {
                violation = Some(Violation {
                    syscall: index as i64,
                    name: super::seccomp::syscall_name(index as i64).map(str::to_string),
                })
            }
            _ => {}
        }
    }
    // Without init's record (init itself was killed) PID 1's own status stands in.
    let status = payload_status
        .or(reaped.map(|(st, _)| st))
        .unwrap_or(libc::SIGKILL);
    let (exit_code, signal) = if violation.is_some() {
        // The offending task never returned from the call: the sandbox was killed for it.
        (None, Some(libc::SIGSYS))
    } else if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else if libc::WIFSIGNALED(status) {
        (None, Some(libc::WTERMSIG(status)))
    } else {
        (None, None)
    };
    // init reaped every process and reported their usage; if init was killed before it could,
    // PID 1's rusage holds what it had reaped by then.
    let (max_rss_kib, cpu_time) = match (reported_usage, reaped) {
        (Some((rss, us)), _) => (rss, Duration::from_micros(us)),
        (None, Some((_, usage))) => (
            usage.ru_maxrss.max(0) as u64,
            tv(usage.ru_utime) + tv(usage.ru_stime),
        ),
        (None, None) => (0, Duration::ZERO),
    };
    // The OOM killer fired in the sandbox's cgroup because its own limit was reached (a
    // host-wide OOM that picked a sandbox process is not the sandbox's limit).
    let oom_killed = cgroup.is_some_and(|c| c.oom_kills > 0 && c.limit_hit);
    let verdict = if violation.is_some() {
        Verdict::SecurityViolation
    } else if oom_killed {
        Verdict::MemoryLimit
    } else if output_killed {
        Verdict::OutputLimit
    } else if wall_killed {
        Verdict::WallTimeLimit
    } else if signal == Some(libc::SIGXCPU)
        || (signal == Some(libc::SIGKILL) && cpu_time >= limits.cpu_time)
    {
        Verdict::CpuTimeLimit
    } else if signal == Some(libc::SIGSYS) {
        Verdict::SecurityViolation
    } else if signal.is_some() {
        Verdict::Signaled
    } else if exit_code == Some(0) {
        Verdict::Ok
    } else {
        Verdict::ExitNonzero
    };
    let [out, err] = streams;
    Outcome {
        verdict,
        exit_code,
        signal,
        wall_time,
        cpu_time,
        max_rss_kib,
        max_memory_kib: cgroup.and_then(|c| c.peak_memory).map(|b| b.div_ceil(1024)),
        stdout_bytes: out.kept,
        stderr_bytes: err.kept,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        stdout: out.buf,
        stderr: err.buf,
        violation,
        enforced: sb.prepared().enforced.clone(),
    }
}

/// A running sandbox started with [`Sandbox::spawn`].
pub struct Child {
    started: Started,
    sandbox: Sandbox,
    begin: Instant,
    deadline: Instant,
    /// The program's stdin (write end); drop it to send end of file.
    pub stdin: Option<File>,
    /// The program's stdout (read end).
    pub stdout: Option<File>,
    /// The program's stderr (read end).
    pub stderr: Option<File>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.started.pid)
            .finish()
    }
}

pub(crate) fn spawn(sb: &Sandbox, cmd: &Command) -> Result<Child> {
    let begin = Instant::now();
    let deadline = begin + sb.limits().wall_time;
    let mut started = start_on_launcher(sb, cmd, deadline)?;
    let stdin = started.stdin.take().map(File::from);
    let stdout = started.stdout.take().map(File::from);
    let stderr = started.stderr.take().map(File::from);
    Ok(Child {
        started,
        sandbox: sb.clone(),
        begin,
        deadline,
        stdin,
        stdout,
        stderr,
    })
}

impl Child {
    /// Host pid of the sandbox's init process (PID 1 inside).
    pub fn pid(&self) -> u32 {
        self.started.pid as u32
    }

    /// Kill the whole sandbox now.
    pub fn kill(&mut self) -> Result<()> {
        self.started.try_kill()
    }

    /// Wait for the sandbox to end (killing it at the wall-time limit). Output is not captured
    /// here: read it from `stdout`/`stderr`. Closes `stdin` first.
    pub fn wait(mut self) -> Result<Outcome> {
        self.stdin = None;
        let mut wall_killed = false;
        loop {
            let now = Instant::now();
            if now >= self.deadline && !wall_killed {
                self.started.end()?;
                wall_killed = true;
            }
            self.started.escalate_if_due(now);
            let mut pfd = [libc::pollfd {
                fd: self.started.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            let until = match self.started.escalation() {
                Some(at) => at,
                None if wall_killed => now + END_GRACE,
                None => self.deadline,
            };
            let timeout = ms_ceil(until.saturating_duration_since(now));
            match sys::poll(&mut pfd, timeout) {
                Ok(n) if n > 0 => break,
                Ok(_) | Err(libc::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", os_err(e))),
            }
        }
        let records = self.started.records_after_exit();
        finish(
            &self.sandbox,
            &mut self.started,
            &records,
            self.begin,
            wall_killed,
            false,
            Default::default(),
        )
    }
}
