//! The `Sandbox` builder: configuration, validation and everything prepared once per sandbox.
//!
//! A [`Sandbox`] is immutable, `Send + Sync` and reusable: the mount plan, the seccomp BPF
//! programs and the landlock rules are computed by [`SandboxBuilder::build`], so a run only
//! creates pipes, clones and supervises.

#[cfg(feature = "tokio")]
mod async_run;
pub(crate) mod cgroup;
pub(crate) mod child;
pub(crate) mod fork;
mod host_ids;
mod init;
mod landlock;
mod launcher;
mod limits;
mod netns;
mod outcome;
mod reaper;
pub(crate) mod rootfs;
pub mod seccomp;
mod spawn;
mod warm;
mod workspace;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "tokio")]
pub use self::async_run::AsyncChild;
pub use self::cgroup::CgroupMode;
pub use self::child::Step as SetupStep;
pub use self::host_ids::{HostIdLease, HostIdRange, HostIds, LEASE_DIR};
pub use self::landlock::{LandlockReport, LandlockRequire};
pub use self::limits::Limits;
pub(crate) use self::limits::{parse_secs, parse_size, secs_f64};
pub use self::outcome::{Enforced, Outcome, Report, Verdict, Violation};
pub use self::rootfs::{Mount, MountKind};
pub use self::spawn::{Child, Input, Output};
pub use self::warm::{Job, MAX_JOB_ARGS, MAX_JOB_CODE, WarmCell, WarmConfig, WarmPool, WarmStats};
pub use self::workspace::{WORKSPACE_DIR, Workspace, hand_over};
use crate::error::{Error, Result};
use crate::profile::{Network, Profile};

/// What to run inside a sandbox: a program, its arguments, its environment and its working
/// directory. Like [`std::process::Command`], but a value (built with chained calls) that can
/// be run many times, in any sandbox.
///
/// The environment starts as the sandbox's (the profile's `[env]`, by default only `PATH`,
/// `HOME=/tmp` and `LANG=C.UTF-8`; nothing is inherited from the host); [`Command::env`],
/// [`Command::env_remove`] and [`Command::env_clear`] change it for this command only.
///
/// ```
/// use runcell::{Command, Sandbox, Verdict};
///
/// let sandbox = Sandbox::builder().build()?;
/// let cmd = Command::new("sh")
///     .args(["-c", "echo $GREETING from $(pwd); test -z \"$LANG\""])
///     .env("GREETING", "hello")
///     .env_remove("LANG")
///     .current_dir("/tmp");
/// let outcome = sandbox.run(&cmd, b"")?;
/// assert_eq!(outcome.verdict, Verdict::Ok);
/// assert_eq!(outcome.stdout, b"hello from /tmp\n");
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    /// Changes on top of the sandbox's environment, in call order (`None` removes).
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    dir: Option<PathBuf>,
    /// Per-run mounts on top of the sandbox's (job files: inputs, a work directory).
    mounts: Vec<Mount>,
    /// Host ids leased before the run (see [`Command::host_ids`]).
    host_ids: Option<HostIdLease>,
}

impl Command {
    /// A program name (looked up on the sandbox's PATH, inside the sandbox) or a path inside the
    /// sandbox.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            dir: None,
            mounts: Vec::new(),
            host_ids: None,
        }
    }

    /// Run with these host ids, leased beforehand with [`Sandbox::lease_host_ids`] (to hand
    /// files to the run's uid before it starts). Without it each run leases its own.
    pub fn host_ids(mut self, lease: &HostIdLease) -> Self {
        self.host_ids = Some(lease.clone());
        self
    }

    /// Bind the host path `src` read-only (nosuid, nodev) at `dst` for this run only, on top of
    /// the sandbox's own mounts: per-job inputs without rebuilding the [`Sandbox`]. A
    /// destination the sandbox already mounts is an error at run time, before anything starts.
    pub fn ro_bind(mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount {
            kind: MountKind::RoBind,
            src: src.into(),
            dst: dst.into(),
            optional: false,
        });
        self
    }

    /// Bind the host path `src` read-write (nosuid, nodev) at `dst` for this run only (a job's
    /// output or work directory; see [`Workspace`] for one the sandbox user can write).
    pub fn bind(mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount {
            kind: MountKind::Bind,
            src: src.into(),
            dst: dst.into(),
            optional: false,
        });
        self
    }

    /// Add an argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Set an environment variable for this command (on top of the sandbox's environment).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self
    }

    /// Set several environment variables for this command.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Remove a variable from this command's environment (one of the sandbox's, or one set
    /// earlier on this command).
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().to_owned(), None));
        self
    }

    /// Start this command from an empty environment instead of the sandbox's (variables set
    /// before this call are dropped too). Without `PATH`, a bare program name is still looked
    /// up on the sandbox's `PATH`.
    pub fn env_clear(mut self) -> Self {
        self.env.clear();
        self.env_clear = true;
        self
    }

    /// Working directory inside the sandbox for this command (must exist there).
    pub fn current_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.dir = Some(d.into());
        self
    }

    /// The program as given.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments after the program.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The environment this command runs with, given the sandbox's: the sandbox's variables
    /// (unless cleared) with this command's changes applied in order.
    pub(crate) fn environment(
        &self,
        base: &BTreeMap<Vec<u8>, Vec<u8>>,
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut env = if self.env_clear {
            BTreeMap::new()
        } else {
            base.clone()
        };
        for (k, v) in &self.env {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(Error::config(format!(
                    "bad environment variable name {k:?}"
                )));
            }
            match v {
                Some(v) => env.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec()),
                None => env.remove(k.as_bytes()),
            };
        }
        Ok(env)
    }
}

/// A sandbox configuration being assembled; see [`Sandbox::builder`].
///
/// The builder starts from a [`Profile`] (the built-in `default` unless
/// [`SandboxBuilder::profile`] picks another) and records every other call as a change on top
/// of it, so the order of the calls does not matter: `.wall_time(..).profile(..)` keeps the
/// wall time. Nothing is checked until [`SandboxBuilder::build`], which validates the whole
/// configuration and prepares everything a run needs.
///
/// ```
/// use std::time::Duration;
/// use runcell::{CgroupMode, Network, Profile, Sandbox};
///
/// let sandbox = Sandbox::builder()
///     .wall_time(Duration::from_secs(2))      // kept although the profile comes later
///     .profile(Profile::named("python")?)
///     .memory(128 << 20)
///     .pids(16)
///     .network(Network::None)
///     .cgroups(CgroupMode::Auto)
///     .env("PYTHONHASHSEED", "0")
///     .build()?;
/// assert_eq!(sandbox.limits().wall_time, Duration::from_secs(2));
/// assert_eq!(sandbox.limits().memory, 128 << 20);
/// assert_eq!(sandbox.limits().pids, 16);
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    profile: Profile,
    /// Every setting made through the builder, applied in call order on top of `profile` at
    /// build time (so choosing the profile last does not undo them).
    edits: Vec<Edit>,
    extra_mounts: Vec<Mount>,
    seccomp_override: Option<String>,
    landlock_off: bool,
    nested_namespaces: bool,
    cgroup_base: Option<PathBuf>,
    single_run: bool,
    netns_pool: bool,
}

/// One builder setting, kept as data until `build` applies it to the profile.
#[derive(Debug, Clone)]
enum Edit {
    Workdir(PathBuf),
    Env(String, String),
    EnvClear,
    WallTime(Duration),
    CpuTime(Duration),
    Memory(u64),
    Pids(u64),
    Output(u64),
    CpuQuota(Option<u32>),
    FileSize(u64),
    OpenFiles(u64),
    TmpSize(u64),
    Stack(Option<u64>),
    Limits(Limits),
    Cgroups(CgroupMode),
    Network(Network),
    Hostname(String),
    Ids(u32, u32),
    HostIds(HostIds),
    LandlockRequire(LandlockRequire),
    LandlockBestEffort(bool),
    DevShm(bool),
    Devpts(bool),
}

impl Edit {
    fn apply(&self, p: &mut Profile) {
        let l = &mut p.limits;
        match self {
            Edit::Workdir(d) => p.workdir = d.clone(),
            Edit::Env(k, v) => {
                p.env.insert(k.clone(), v.clone());
            }
            Edit::EnvClear => p.env.clear(),
            Edit::WallTime(d) => l.wall_time = *d,
            Edit::CpuTime(d) => l.cpu_time = *d,
            Edit::Memory(n) => l.memory = *n,
            Edit::Pids(n) => l.pids = *n,
            Edit::Output(n) => l.output = *n,
            Edit::CpuQuota(q) => l.cpu_quota = *q,
            Edit::FileSize(n) => l.file_size = *n,
            Edit::OpenFiles(n) => l.open_files = *n,
            Edit::TmpSize(n) => l.tmp_size = *n,
            Edit::Stack(n) => l.stack = *n,
            Edit::Limits(all) => *l = all.clone(),
            Edit::Cgroups(m) => p.cgroups = *m,
            Edit::Network(n) => p.network = *n,
            Edit::Hostname(h) => p.hostname = h.clone(),
            Edit::Ids(u, g) => (p.uid, p.gid) = (*u, *g),
            Edit::HostIds(ids) => p.host_ids = *ids,
            Edit::LandlockRequire(r) => p.landlock_require = *r,
            Edit::LandlockBestEffort(b) => p.landlock_best_effort = *b,
            Edit::DevShm(b) => p.dev_shm = *b,
            Edit::Devpts(on) => p.devpts = *on,
        }
    }
}

fn cstring(what: &str, s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|_| Error::config(format!("{what} contains a NUL byte")))
}

impl SandboxBuilder {
    fn edit(mut self, e: Edit) -> Self {
        self.edits.push(e);
        self
    }

    /// The profile the builder starts from (default: the built-in `default`). Every other
    /// builder call is kept and applied on top of it, whether it came before or after this one.
    pub fn profile(mut self, p: Profile) -> Self {
        self.profile = p;
        self
    }

    /// The configuration [`build`](Self::build) would validate: the profile with every builder
    /// setting applied (extra mounts, the seccomp override and the cgroup base are separate).
    pub fn effective_profile(&self) -> Profile {
        let mut p = self.profile.clone();
        for e in &self.edits {
            e.apply(&mut p);
        }
        p
    }

    /// Bind a host path read-only (nosuid, nodev) at `dst` inside the sandbox. Replaces a
    /// profile mount with the same destination.
    pub fn ro_bind(mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        self.extra_mounts.push(Mount {
            kind: MountKind::RoBind,
            src: src.into(),
            dst: dst.into(),
            optional: false,
        });
        self
    }

    /// Bind a host path read-write at `dst` inside the sandbox (a weakening: the program can
    /// change those host files).
    pub fn bind(mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        self.extra_mounts.push(Mount {
            kind: MountKind::Bind,
            src: src.into(),
            dst: dst.into(),
            optional: false,
        });
        self
    }

    /// Mount a fresh tmpfs of `size` bytes at `dst`.
    pub fn tmpfs(mut self, dst: impl Into<PathBuf>, size: u64) -> Self {
        self.extra_mounts.push(Mount {
            kind: MountKind::Tmpfs { size },
            src: PathBuf::new(),
            dst: dst.into(),
            optional: false,
        });
        self
    }

    /// Working directory inside the sandbox (gets its own tmpfs unless a mount covers it).
    pub fn workdir(self, dir: impl Into<PathBuf>) -> Self {
        self.edit(Edit::Workdir(dir.into()))
    }

    /// Set an environment variable of the sandbox (on top of the profile's `[env]`).
    pub fn env(self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.edit(Edit::Env(k.into(), v.into()))
    }

    /// Start from an empty environment instead of the profile's (variables set with
    /// [`env`](Self::env) after this call are kept).
    pub fn env_clear(self) -> Self {
        self.edit(Edit::EnvClear)
    }

    /// Wall-clock limit from start to the kill of the whole tree (default 10 s; 1 ms to 7
    /// days, millisecond precision).
    pub fn wall_time(self, d: Duration) -> Self {
        self.edit(Edit::WallTime(d))
    }

    /// CPU-time limit (user + system; default 10 s). Enforced per process with RLIMIT_CPU in
    /// whole seconds and checked against the measured total afterwards.
    pub fn cpu_time(self, d: Duration) -> Self {
        self.edit(Edit::CpuTime(d))
    }

    /// Memory limit in bytes (default 256 MiB): of the whole sandbox with cgroups, of each
    /// process's address space without.
    pub fn memory(self, bytes: u64) -> Self {
        self.edit(Edit::Memory(bytes))
    }

    /// How many processes (and threads) the program may have at once (default 64).
    pub fn pids(self, n: u64) -> Self {
        self.edit(Edit::Pids(n))
    }

    /// Per-stream output cap in bytes (default 1 MiB each for stdout and stderr); more ends the
    /// run with [`Verdict::OutputLimit`].
    pub fn output_limit(self, bytes: u64) -> Self {
        self.edit(Edit::Output(bytes))
    }

    /// CPU bandwidth of the whole sandbox in thousandths of a CPU (1000 = one core). Needs
    /// cgroups with the cpu controller: building fails where they are unavailable.
    pub fn cpu_quota(self, thousandths: u32) -> Self {
        self.edit(Edit::CpuQuota(Some(thousandths)))
    }

    /// Whether memory and process limits go through cgroups. Default
    /// [`CgroupMode::Auto`]: where this process may create cgroups under its own, the memory
    /// limit covers the whole tree and an OOM kill is reported as `memory_limit`; elsewhere
    /// rlimits enforce the limits (see [`Enforced::limit_mechanisms`]).
    pub fn cgroups(self, mode: CgroupMode) -> Self {
        self.edit(Edit::Cgroups(mode))
    }

    /// Create the sandbox's cgroups under this cgroup v2 directory (one delegated to this
    /// process, with `memory` and `pids` enabled in its `cgroup.subtree_control`) instead of
    /// under this process's own cgroup.
    pub fn cgroup_v2_base(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup_base = Some(dir.into());
        self
    }

    /// A hint that this sandbox will serve a single run (a command-line invocation): its
    /// cgroup is one leaf per hierarchy made directly in this process's own cgroup (or the
    /// v2 base) instead of a pool under a parent directory of its own, so `build()` and the
    /// drop create and remove half as many cgroups, and a root host builds each run's root
    /// from its own mount tree instead of first making a template mount namespace for the
    /// sandbox. On a root host `build()` starts making the first run's network namespace on a
    /// thread of its own (see [`network_namespace_pool`](Self::network_namespace_pool)), and
    /// [`Sandbox::run`] launches on the calling thread instead of a launcher thread. Limits
    /// and isolation are the same; more runs still work (each gets a leaf of its own).
    pub fn single_run(mut self, on: bool) -> Self {
        self.single_run = on;
        self
    }

    /// Largest file the program may write, in bytes (default 16 MiB; RLIMIT_FSIZE).
    pub fn file_size(self, bytes: u64) -> Self {
        self.edit(Edit::FileSize(bytes))
    }

    /// Open file descriptors per process (default 256; RLIMIT_NOFILE).
    pub fn open_files(self, n: u64) -> Self {
        self.edit(Edit::OpenFiles(n))
    }

    /// Size of the private `/tmp` in bytes (default 64 MiB; also the working directory's tmpfs
    /// when it has one).
    pub fn tmp_size(self, bytes: u64) -> Self {
        self.edit(Edit::TmpSize(bytes))
    }

    /// Stack size of each process in bytes (RLIMIT_STACK, soft and hard; `u64::MAX` =
    /// unlimited; default: the host's own). Lowered to the host's hard limit when above it.
    pub fn stack(self, bytes: u64) -> Self {
        self.edit(Edit::Stack(Some(bytes)))
    }

    /// All limits at once (replaces the profile's limits and earlier limit calls; later calls
    /// still change single limits).
    pub fn limits(self, l: Limits) -> Self {
        self.edit(Edit::Limits(l))
    }

    /// Network of the sandbox (`Network::Loopback` is a weakening: it brings `lo` up and lifts
    /// the landlock TCP restriction).
    pub fn network(self, n: Network) -> Self {
        self.edit(Edit::Network(n))
    }

    /// Hostname inside the sandbox (default `runcell`; 1 to 64 bytes).
    pub fn hostname(self, h: impl Into<String>) -> Self {
        self.edit(Edit::Hostname(h.into()))
    }

    /// uid/gid of the program inside the sandbox (default 1000; must not be 0).
    pub fn ids(self, uid: u32, gid: u32) -> Self {
        self.edit(Edit::Ids(uid, gid))
    }

    /// Fixed host uid/gid every run maps to when the host runs as root (never 0), instead of
    /// a uid leased per run from a range (the default, see [`SandboxBuilder::host_id_range`]).
    /// Concurrent runs then share everything the kernel counts per user (key quota, user
    /// namespace counts, RLIMIT_NPROC). An unprivileged host maps to its own ids.
    pub fn host_ids(self, uid: u32, gid: u32) -> Self {
        self.edit(Edit::HostIds(HostIds::Fixed { uid, gid }))
    }

    /// When the host runs as root, each run leases its own host uid — and the gid of the same
    /// number — from `range`, for as long as it runs (default [`HostIdRange::DEFAULT`],
    /// `80000-96383`; see there for why). The range bounds how many sandboxes run at once on
    /// the host: past it a run fails with [`Error::HostIdsExhausted`]. An unprivileged host
    /// maps to its own ids.
    pub fn host_id_range(self, range: HostIdRange) -> Self {
        self.edit(Edit::HostIds(HostIds::Range(range)))
    }

    /// Seccomp policy by built-in name (`default`, `strict`) or path (contains `/` or ends in
    /// `.toml`); `"none"` disables seccomp (a weakening).
    pub fn seccomp(mut self, policy: impl Into<String>) -> Self {
        self.seccomp_override = Some(policy.into());
        self
    }

    /// Landlock features that must be enforced.
    pub fn landlock_require(self, r: LandlockRequire) -> Self {
        self.edit(Edit::LandlockRequire(r))
    }

    /// Enforce what the kernel supports instead of failing (a weakening; the outcome reports
    /// what was enforced).
    pub fn landlock_best_effort(self, on: bool) -> Self {
        self.edit(Edit::LandlockBestEffort(on))
    }

    /// Turn landlock off entirely (a weakening, meant for tests that prove which layer stops
    /// an attack; the outcome then reports landlock as not enforced).
    pub fn without_landlock(mut self) -> Self {
        self.landlock_off = true;
        self
    }

    /// Whether a root host may give this sandbox's runs network namespaces made ahead of time
    /// on a background thread (default: yes). Each is used by exactly one run and belongs to
    /// the host's user namespace, so the sandbox has no capability over it; loopback is up
    /// when the profile asks for it. A [`single_run`](Self::single_run) sandbox takes none
    /// from the pool: `build()` starts one thread that makes its first run's namespace while
    /// the build goes on. Off, on an unprivileged host, or when none is ready, each run's
    /// clone creates its namespace (`CLONE_NEWNET`), which costs the launch more.
    pub fn network_namespace_pool(mut self, on: bool) -> Self {
        self.netns_pool = on;
        self
    }

    /// Let the program create namespaces of its own (a weakening, for nesting a sandbox in a
    /// sandbox, e.g. running `runcell check` inside one). By default the sandbox's user
    /// namespace has a budget of zero namespaces of every kind, so even with a seccomp policy
    /// that allows `unshare`/`clone` the kernel refuses them (ENOSPC); the seccomp policy
    /// still has to allow the calls.
    pub fn allow_nested_namespaces(mut self) -> Self {
        self.nested_namespaces = true;
        self
    }

    /// A private /dev/shm.
    pub fn dev_shm(self, on: bool) -> Self {
        self.edit(Edit::DevShm(on))
    }

    /// A new devpts instance at /dev/pts (and /dev/ptmx), for programs that need a terminal.
    pub fn devpts(self, on: bool) -> Self {
        self.edit(Edit::Devpts(on))
    }

    /// Validate and prepare everything a run needs. Nothing runs yet.
    ///
    /// With cgroups, the build checks that this process may create them (where it may not,
    /// [`CgroupMode::Auto`] falls back to rlimits and [`CgroupMode::Require`] fails here)
    /// and whether they can cap swap, but makes no cgroup directory on a cgroup v1 host and
    /// only the sandbox's parent directory on a v2 one: the first run makes its leaf (v1:
    /// the parents too). So a refusal the kernel only makes there (a v1 CPU quota above an
    /// ancestor's, a directory refused despite the access check) fails the first run with
    /// [`Error::Cgroup`], before any process starts, and every later run the same way.
    /// ([`single_run`](Self::single_run) sandboxes make their first leaf here, as before.)
    pub fn build(self) -> Result<Sandbox> {
        // The process-wide init memfd, made now: a host where it cannot be made fails here,
        // not at the first run.
        init::fd()?;
        let effective = self.effective_profile();
        let p = &effective;
        // A single run's network namespace, made on a thread of its own while the rest of
        // the build goes on (see `netns::Ahead`).
        let netns_ahead = if self.single_run && self.netns_pool {
            netns::Ahead::start(p.network == Network::Loopback)
        } else {
            None
        };
        p.limits.validate()?;
        if p.uid == 0 || p.gid == 0 {
            return Err(Error::config(
                "the sandbox uid/gid must not be 0: the program runs unprivileged",
            ));
        }
        if let HostIds::Fixed { uid, gid } = p.host_ids
            && (uid == 0 || gid == 0)
        {
            return Err(Error::config(
                "the sandbox must not map to host root (host_uid/host_gid 0)",
            ));
        }
        if let HostIds::Range(range) = p.host_ids
            && host_ids::host_is_root()
        {
            host_ids::check_mapped(range)?;
        }
        if p.hostname.is_empty() || p.hostname.len() > 64 {
            return Err(Error::config("hostname must be 1 to 64 bytes"));
        }
        for k in p.env.keys() {
            if k.is_empty() || k.contains('=') {
                return Err(Error::config(format!(
                    "bad environment variable name {k:?}"
                )));
            }
        }
        if let Some(missing) = crate::sys::rootfs_api_missing() {
            return Err(Error::Unsupported {
                feature: format!("the new mount API ({missing}; Linux 5.12 or later)"),
            });
        }
        // The builder's own mounts replace the profile's at the same destination; two of the
        // builder's own at one destination are an error of the plan.
        let mut mounts = p.mounts.clone();
        mounts.retain(|old| !self.extra_mounts.iter().any(|m| m.dst == old.dst));
        mounts.extend(self.extra_mounts.iter().cloned());
        let home = p
            .env
            .get("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| p.workdir.clone());
        let plan = rootfs::RootPlan::build(
            &mounts,
            &rootfs::FixedRoot {
                tmp_size: p.limits.tmp_size,
                dev_shm: p.dev_shm.then_some(p.limits.tmp_size),
                devpts: p.devpts,
                workdir: p.workdir.clone(),
                files: rootfs::identity_files(&p.hostname, p.uid, p.gid, &home),
            },
        )?;
        let network = p.network == Network::Loopback;
        let (landlock, landlock_report) = if self.landlock_off {
            (
                None,
                LandlockReport {
                    abi: crate::sys::landlock_abi(),
                    ..Default::default()
                },
            )
        } else {
            landlock::plan(
                &plan.rules,
                network,
                p.landlock_require,
                p.landlock_best_effort,
            )?
        };
        let policy_name = self
            .seccomp_override
            .clone()
            .unwrap_or_else(|| p.seccomp.clone());
        let (seccomp_name, seccomp_programs, seccomp_listener) = if policy_name == "none" {
            ("none".to_string(), Vec::new(), None)
        } else {
            let policy = if policy_name.contains('/') || policy_name.ends_with(".toml") {
                seccomp::SeccompPolicy::load(Path::new(&policy_name))?
            } else {
                seccomp::SeccompPolicy::named(&policy_name)?
            };
            let compiled = policy.compile(network)?;
            let listener = compiled.listener_index();
            (compiled.name, compiled.programs, listener)
        };
        let (cgroups, cgroup_state) = self.cgroup_pool(p)?;
        let mechanism = cgroups.as_ref().map(cgroup::Pool::mechanism);
        // The cgroup alone bounds memory unless it cannot cap swap on a host that has some:
        // then RLIMIT_AS stays as well.
        // The cgroup and the rlimit both enforce a limit.
        let with_rlimit = |m: Option<&'static str>| match m {
            Some("cgroup_v1") => "cgroup_v1+rlimit",
            Some(_) => "cgroup_v2+rlimit",
            None => "rlimit",
        };
        let cgroup_memory_only = cgroups
            .as_ref()
            .is_some_and(|pool| pool.swap_capped() || cgroup::host_swap_total() == 0);
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63);
        let path_dirs: Vec<Vec<u8>> = p
            .env
            .get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .split(':')
            .filter(|d| d.starts_with('/'))
            .map(|d| d.as_bytes().to_vec())
            .collect();
        // What a run will map to: per run the lease's ids (see `Outcome::enforced`).
        let planned_ids = match (host_ids::host_is_root(), p.host_ids) {
            (true, HostIds::Range(r)) => (r.first(), r.first(), Some(r)),
            (true, HostIds::Fixed { uid, gid }) => (uid, gid, None),
            (false, _) => {
                // SAFETY: plain getters.
                let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
                (euid, egid, None)
            }
        };
        let enforced = Enforced {
            namespaces: vec!["user", "pid", "mount", "network", "ipc", "uts", "cgroup"],
            landlock: landlock_report,
            seccomp: seccomp_name,
            limits: p.limits.clone(),
            limit_mechanisms: [
                ("wall_time", "host"),
                ("cpu_time", "rlimit"),
                (
                    "memory",
                    match mechanism {
                        Some(m) if cgroup_memory_only => m,
                        m => with_rlimit(m),
                    },
                ),
                ("pids", with_rlimit(mechanism)),
                ("output", "host"),
                ("file_size", "rlimit"),
                ("open_files", "rlimit"),
                ("tmp_size", "tmpfs"),
            ]
            .into_iter()
            .chain(
                mechanism
                    .filter(|_| p.limits.cpu_quota.is_some())
                    .map(|m| ("cpu_quota", m)),
            )
            .collect(),
            cgroup: cgroup_state,
            uid: p.uid,
            gid: p.gid,
            host_uid: planned_ids.0,
            host_gid: planned_ids.1,
            host_id_range: planned_ids.2,
            network: p.network.as_str(),
            mounts: plan.mounted.clone(),
        };
        let prepared = Prepared {
            hostname: cstring("hostname", p.hostname.as_bytes())?,
            workdir: cstring("working directory", p.workdir.as_os_str().as_bytes())?,
            // `{memory_mib}` in a value is the memory limit in MiB (the java profile sizes the
            // heap from it).
            env: p
                .env
                .iter()
                .map(|(k, v)| {
                    let v = v.replace("{memory_mib}", &(p.limits.memory >> 20).to_string());
                    (k.clone().into_bytes(), v.into_bytes())
                })
                .collect(),
            path_dirs,
            rlimits: p
                .limits
                .rlimits(cgroup_memory_only, crate::sys::stack_hard_limit()),
            cgroups,
            last_cap,
            landlock,
            seccomp: seccomp_programs,
            seccomp_listener,
            root: plan,
            enforced,
            reaper: (!self.single_run).then(reaper::Reaper::default),
            netns_ahead,
        };
        if self.netns_pool && !self.single_run {
            // Start making this sandbox's kind of network namespace now (root hosts only).
            netns::prepare(network);
        }
        Ok(Sandbox {
            builder: self,
            profile: Arc::new(effective),
            prepared: Arc::new(prepared),
        })
    }
}

/// The plans of one run with its own mounts.
pub(crate) struct RunPlan {
    pub root: rootfs::RootPlan,
    pub landlock: Option<landlock::LandlockPlan>,
}

/// Data prepared once per sandbox and shared by its runs.
pub(crate) struct Prepared {
    pub hostname: CString,
    pub workdir: CString,
    pub env: BTreeMap<Vec<u8>, Vec<u8>>,
    pub path_dirs: Vec<Vec<u8>>,
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    pub last_cap: u32,
    pub landlock: Option<landlock::LandlockPlan>,
    pub seccomp: Vec<Vec<libc::sock_filter>>,
    pub seccomp_listener: Option<usize>,
    pub root: rootfs::RootPlan,
    pub enforced: Enforced,
    /// The sandbox's pool of cgroups (removed when the last clone of the sandbox is dropped).
    pub cgroups: Option<cgroup::Pool>,
    /// Finishes runs in the background once their outcome is known (see `reaper`); joined
    /// when the last clone of the sandbox is dropped. `None` for a `single_run` sandbox,
    /// whose process usually exits right after its run: it reaps before returning.
    pub reaper: Option<reaper::Reaper>,
    /// A `single_run` sandbox's network namespace, being made since `build()` (root hosts).
    pub netns_ahead: Option<netns::Ahead>,
}

// A Sandbox is shared between threads: keep it that way at compile time.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
};

/// A validated, prepared sandbox configuration. Cheap to clone, safe to share between threads,
/// reusable for any number of runs.
///
/// Build one with [`Sandbox::builder`], then run programs in it: every run gets fresh
/// namespaces, a fresh root and fresh limits, so runs never see each other.
///
/// ```
/// use std::time::Duration;
/// use runcell::{Command, Sandbox, Verdict};
///
/// let sandbox = Sandbox::builder()
///     .wall_time(Duration::from_secs(5))
///     .build()?;
///
/// // Captured output, stdin from bytes.
/// let outcome = sandbox.run(&Command::new("tr").args(["a-z", "A-Z"]), b"hello")?;
/// assert!(outcome.success());
/// assert_eq!(outcome.stdout, b"HELLO");
///
/// // A program that fails is an outcome, not an error.
/// let outcome = sandbox.run(&Command::new("sh").args(["-c", "exit 3"]), b"")?;
/// assert_eq!((outcome.verdict, outcome.exit_code), (Verdict::ExitNonzero, Some(3)));
///
/// // So is one that hits a limit; the whole process tree is killed.
/// let quick = sandbox.to_builder().wall_time(Duration::from_millis(200)).build()?;
/// let outcome = quick.run(&Command::new("sleep").arg("60"), b"")?;
/// assert_eq!(outcome.verdict, Verdict::WallTimeLimit);
///
/// // A program that does not exist in the sandbox is an error: nothing ran.
/// assert!(matches!(
///     sandbox.run(&Command::new("no-such-program"), b""),
///     Err(runcell::Error::ProgramNotFound { .. })
/// ));
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Clone)]
pub struct Sandbox {
    builder: SandboxBuilder,
    /// The profile with every builder setting applied: what the sandbox really uses.
    profile: Arc<Profile>,
    prepared: Arc<Prepared>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("profile", &self.profile.name)
            .field("enforced", &self.prepared.enforced)
            .finish()
    }
}

impl SandboxBuilder {
    /// The cgroup pool of the sandbox being built, and the `Enforced::cgroup` text. Making the
    /// pool is also the check that this process may create cgroups (v1: an access check of
    /// its own directories, the cgroups come with the first run; v2: the pool's parent).
    fn cgroup_pool(&self, p: &Profile) -> Result<(Option<cgroup::Pool>, String)> {
        let mode = p.cgroups;
        let unavailable = |reason: String| -> Result<(Option<cgroup::Pool>, String)> {
            if mode == CgroupMode::Require {
                Err(Error::Unsupported {
                    feature: format!("cgroups ({reason})"),
                })
            } else if p.limits.cpu_quota.is_some() {
                Err(Error::Unsupported {
                    feature: format!("a CPU quota, which needs cgroups ({reason})"),
                })
            } else {
                Ok((None, format!("none: {reason}")))
            }
        };
        if mode == CgroupMode::Off {
            return unavailable("turned off".into());
        }
        let detected = match (
            cgroup::detect(self.cgroup_base.as_deref()),
            &self.cgroup_base,
        ) {
            (Ok(d), _) => d,
            // A base the caller chose is a configuration to honour, not a hint.
            (Err(reason), Some(base)) => {
                return Err(Error::config(format!(
                    "cgroup v2 base {}: {reason}",
                    base.display()
                )));
            }
            (Err(reason), None) => return unavailable(reason),
        };
        if p.limits.cpu_quota.is_some() && !detected.cpu() {
            return unavailable("no cpu controller".into());
        }
        let settings = cgroup::Settings {
            memory: p.limits.memory,
            // The sandbox's init process is one of the tasks.
            pids: p.limits.pids + 1,
            cpu_quota: p.limits.cpu_quota,
        };
        let pool = if self.single_run {
            cgroup::Pool::new_single(&detected, &settings)
        } else {
            cgroup::Pool::new(&detected, &settings)
        };
        match pool {
            Ok(pool) => {
                let version = match detected.mechanism() {
                    "cgroup_v1" => "v1",
                    _ => "v2",
                };
                Ok((Some(pool), version.to_string()))
            }
            // A base the caller chose must work; a failure under our own cgroup means
            // "not offered here".
            Err(e) if self.cgroup_base.is_none() && cgroup::unavailable(&e) => {
                unavailable(e.to_string())
            }
            Err(e) => Err(e),
        }
    }
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            // The embedded default always parses (a unit test checks it); the baseline with
            // /usr is the same policy without the optional binds.
            profile: Profile::named("default").unwrap_or_else(|_| {
                let mut p = Profile::base();
                p.mounts.push(Mount {
                    kind: MountKind::RoBind,
                    src: "/usr".into(),
                    dst: "/usr".into(),
                    optional: false,
                });
                p
            }),
            edits: Vec::new(),
            extra_mounts: Vec::new(),
            seccomp_override: None,
            landlock_off: false,
            nested_namespaces: false,
            cgroup_base: None,
            single_run: false,
            netns_pool: true,
        }
    }
}

impl Sandbox {
    /// A builder starting from the built-in `default` profile (DESIGN §4: read-only system
    /// directories, no network, a private 64 MiB `/tmp`, the default seccomp policy, landlock,
    /// 10 s wall and CPU time, 256 MiB, 64 processes, 1 MiB of output per stream).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// A builder preloaded with this sandbox's configuration (to derive a variant, e.g. with
    /// one more bind mount).
    pub fn to_builder(&self) -> SandboxBuilder {
        self.builder.clone()
    }

    /// What this sandbox enforces.
    pub fn enforced(&self) -> &Enforced {
        &self.prepared.enforced
    }

    /// The limits in force (the profile's, with the builder's changes).
    pub fn limits(&self) -> &Limits {
        &self.profile.limits
    }

    /// Run `cmd` with `stdin` as its standard input, capturing stdout and stderr (each up to
    /// the output limit). Blocks until every process of the program has exited and runcell-init
    /// has reported (it does so only after killing and reaping all of them); init's own exit,
    /// the kernel's teardown of the namespaces and the return of the run's cgroup and host
    /// ids finish on the sandbox's reaper thread, which dropping the last clone of the sandbox
    /// waits for. A [`single_run`](SandboxBuilder::single_run) sandbox reaps before returning.
    pub fn run(&self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        spawn::run(
            self,
            cmd,
            Input::Bytes(stdin),
            Output::Capture,
            Output::Capture,
            None,
        )
    }

    /// Run with explicit input and output handling: stdin from bytes or a host file
    /// descriptor, stdout/stderr captured or streamed to host file descriptors (still cut at
    /// the output limit; [`Outcome::stdout_bytes`] counts what was written). The `runcell`
    /// CLI uses this to connect the program to its own standard streams.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use runcell::{Command, Input, Output, Sandbox};
    ///
    /// let sandbox = Sandbox::builder().build()?;
    /// let file = tempfile::tempfile().unwrap();
    /// let outcome = sandbox.run_with(
    ///     &Command::new("echo").arg("streamed"),
    ///     Input::Bytes(b""),
    ///     Output::Fd(file.as_fd()),
    ///     Output::Capture,
    /// )?;
    /// assert!(outcome.success());
    /// assert!(outcome.stdout.is_empty()); // it went to the file
    /// assert_eq!(outcome.stdout_bytes, 9);
    /// # Ok::<(), runcell::Error>(())
    /// ```
    pub fn run_with(
        &self,
        cmd: &Command,
        stdin: Input<'_>,
        stdout: Output<'_>,
        stderr: Output<'_>,
    ) -> Result<Outcome> {
        spawn::run(self, cmd, stdin, stdout, stderr, None)
    }

    /// [`Sandbox::run_with`] that the caller can cancel: as soon as `cancel` polls readable,
    /// hung up or in error while the program runs, the whole process tree is killed (as at the
    /// wall-time limit), reaped and cleaned up, and the run returns [`Error::Cancelled`]. A
    /// server passes the connection of the client the run is for, which it expects nothing
    /// more from: the client going away (its socket closing) ends the run at once instead of
    /// at its wall-time limit. A `cancel` that fires after the program's exit changes nothing.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use runcell::{Command, Error, Input, Output, Sandbox};
    ///
    /// let sandbox = Sandbox::builder().build()?;
    /// let (client, server_end) = UnixStream::pair().unwrap();
    /// drop(client); // the client is gone before the run even started
    /// let r = sandbox.run_with_cancel(
    ///     &Command::new("sleep").arg("60"),
    ///     Input::Bytes(b""),
    ///     Output::Capture,
    ///     Output::Capture,
    ///     server_end.as_fd(),
    /// );
    /// assert!(matches!(r, Err(Error::Cancelled)));
    /// # Ok::<(), runcell::Error>(())
    /// ```
    pub fn run_with_cancel(
        &self,
        cmd: &Command,
        stdin: Input<'_>,
        stdout: Output<'_>,
        stderr: Output<'_>,
        cancel: BorrowedFd<'_>,
    ) -> Result<Outcome> {
        spawn::run(self, cmd, stdin, stdout, stderr, Some(cancel))
    }

    /// Start `cmd` and return a handle with its pipes, for interactive use. The wall-time limit
    /// is enforced by [`Child::wait`]; output limits are the caller's business (it owns the
    /// pipes).
    ///
    /// The sandbox lives until it ends, is killed, its `Child` is dropped, or the host process
    /// exits (sandboxes are started from launcher threads that live as long as the process, so
    /// the thread that called `spawn` may end first).
    ///
    /// ```
    /// use std::io::{BufRead, BufReader, Write};
    /// use runcell::{Command, Sandbox, Verdict};
    ///
    /// let sandbox = Sandbox::builder().build()?;
    /// let mut child = sandbox.spawn(&Command::new("cat"))?;
    /// let mut stdin = child.stdin.take().unwrap();
    /// let mut stdout = BufReader::new(child.stdout.take().unwrap());
    /// stdin.write_all(b"ping\n").unwrap();
    /// let mut line = String::new();
    /// stdout.read_line(&mut line).unwrap();
    /// assert_eq!(line, "ping\n");
    /// drop(stdin); // end of input: cat exits
    /// let outcome = child.wait()?;
    /// assert_eq!(outcome.verdict, Verdict::Ok);
    /// # Ok::<(), runcell::Error>(())
    /// ```
    pub fn spawn(&self, cmd: &Command) -> Result<Child> {
        spawn::spawn(self, cmd)
    }

    /// A queue to this sandbox's reaper thread (started by the first run that asks), or
    /// `None` when the run reaps itself before returning (a `single_run` sandbox, or no
    /// thread could be started).
    pub(super) fn reaper(&self) -> Option<std::sync::mpsc::Sender<reaper::Reap>> {
        self.prepared.reaper.as_ref()?.sender().ok()
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Whether a root host's runs may join pre-made network namespaces (see `netns`). Not for
    /// a single run: the namespace would be made beside the run and, most often, not be
    /// ready in time, i.e. made for nothing (it gets one made by `build()` instead, see
    /// `netns::Ahead`).
    pub(crate) fn netns_pool(&self) -> bool {
        self.builder.netns_pool && !self.builder.single_run
    }

    /// A single-run sandbox (a command-line invocation): its root is built from the host's,
    /// not from a template mount namespace (making one costs about what it saves a run).
    pub(crate) fn single_run(&self) -> bool {
        self.builder.single_run
    }

    /// Whether the program may create namespaces of its own.
    pub(crate) fn nested_namespaces(&self) -> bool {
        self.builder.nested_namespaces
    }

    /// The root and landlock plans of a run that carries its own mounts: the sandbox's mounts
    /// plus the command's, validated like the sandbox's own (a destination mounted twice is an
    /// error naming it).
    pub(crate) fn plan_for_run(&self, extra: &[Mount]) -> Result<RunPlan> {
        let p = &self.builder.profile;
        let root = self.prepared.root.with_extra(extra)?;
        let landlock = if self.builder.landlock_off {
            None
        } else {
            landlock::plan(
                &root.rules,
                p.network == Network::Loopback,
                p.landlock_require,
                p.landlock_best_effort,
            )?
            .0
        };
        Ok(RunPlan { root, landlock })
    }

    /// How a root host maps this sandbox's runs (a range to lease from, or fixed ids); an
    /// unprivileged host maps every run to itself.
    pub fn host_ids(&self) -> HostIds {
        self.profile.host_ids
    }

    /// Lease the host ids of one run now (the host user's own for an unprivileged host, the
    /// fixed ids if so configured), to prepare files the run will use — give them to the
    /// lease's uid and gid — before it starts; then pass the lease to the run with
    /// [`Command::host_ids`]. The uid stays reserved while any clone of the lease lives (the
    /// run holds one until it is reaped). Fails with [`Error::HostIdsExhausted`] when every id
    /// of the range is in use.
    ///
    /// ```
    /// use runcell::{Command, Sandbox};
    /// let sb = Sandbox::builder().build()?;
    /// let ids = sb.lease_host_ids()?;
    /// let o = sb.run(&Command::new("true").host_ids(&ids), b"")?;
    /// assert_eq!((o.enforced.host_uid, o.enforced.host_gid), (ids.uid(), ids.gid()));
    /// # Ok::<(), runcell::Error>(())
    /// ```
    pub fn lease_host_ids(&self) -> Result<HostIdLease> {
        host_ids::lease(&self.profile.host_ids)
    }

    pub(crate) fn profile(&self) -> &Profile {
        &self.profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every builder setting survives choosing the profile afterwards, and the result does not
    /// depend on the order of the calls.
    #[test]
    fn builder_settings_do_not_depend_on_order() {
        let python = Profile::named("python").unwrap();
        let settings = |b: SandboxBuilder| {
            b.wall_time(Duration::from_millis(1234))
                .cpu_time(Duration::from_secs(3))
                .memory(100 << 20)
                .pids(7)
                .output_limit(999)
                .file_size(4096)
                .open_files(33)
                .tmp_size(8 << 20)
                .hostname("h")
                .workdir("/work")
                .network(Network::Loopback)
                .ids(2000, 3000)
                .host_ids(4000, 5000)
                .dev_shm(true)
                .landlock_best_effort(true)
                .env("K", "V")
                .cgroups(CgroupMode::Off)
        };
        let before = settings(Sandbox::builder())
            .profile(python.clone())
            .effective_profile();
        let after = settings(Sandbox::builder().profile(python.clone())).effective_profile();
        assert_eq!(before, after);
        let l = &before.limits;
        assert_eq!(l.wall_time, Duration::from_millis(1234));
        assert_eq!((l.memory, l.pids, l.output), (100 << 20, 7, 999));
        assert_eq!((l.file_size, l.open_files, l.tmp_size), (4096, 33, 8 << 20));
        assert_eq!(before.hostname, "h");
        assert_eq!(before.workdir, Path::new("/work"));
        assert_eq!(before.network, Network::Loopback);
        assert_eq!((before.uid, before.gid), (2000, 3000));
        assert_eq!(
            before.host_ids,
            HostIds::Fixed {
                uid: 4000,
                gid: 5000
            }
        );
        assert!(before.dev_shm && before.landlock_best_effort);
        assert_eq!(before.cgroups, CgroupMode::Off);
        assert_eq!(before.env.get("K").map(String::as_str), Some("V"));
        // The profile's own values stay where the builder did not touch them.
        assert_eq!(before.mounts, python.mounts);
        assert_eq!(before.env.get("PATH"), python.env.get("PATH"));

        // Later calls win among builder calls: `limits` then a single limit, and back.
        let b = Sandbox::builder()
            .memory(64 << 20)
            .limits(Limits::default())
            .pids(9)
            .effective_profile();
        assert_eq!(b.limits.memory, Limits::default().memory);
        assert_eq!(b.limits.pids, 9);
        // env_clear drops the profile's environment and earlier env calls, not later ones.
        let b = Sandbox::builder()
            .env("A", "1")
            .env_clear()
            .env("B", "2")
            .effective_profile();
        assert_eq!(b.env.keys().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn built_sandbox_uses_the_builder_settings() {
        let sb = Sandbox::builder()
            .wall_time(Duration::from_secs(3))
            .profile(Profile::named("default").unwrap())
            .build()
            .unwrap();
        assert_eq!(sb.limits().wall_time, Duration::from_secs(3));
        assert_eq!(sb.enforced().limits.wall_time, Duration::from_secs(3));
        // A derived sandbox keeps them too.
        let derived = sb.to_builder().memory(64 << 20).build().unwrap();
        assert_eq!(derived.limits().wall_time, Duration::from_secs(3));
        assert_eq!(derived.limits().memory, 64 << 20);
    }

    #[test]
    fn command_environment() {
        let base: BTreeMap<Vec<u8>, Vec<u8>> = [
            (b"PATH".to_vec(), b"/usr/bin".to_vec()),
            (b"HOME".to_vec(), b"/tmp".to_vec()),
        ]
        .into();
        let env = |c: &Command| {
            c.environment(&base)
                .unwrap()
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(&k),
                        String::from_utf8_lossy(&v)
                    )
                })
                .collect::<Vec<_>>()
        };
        let c = Command::new("x")
            .env("A", "1")
            .envs([("B", "2"), ("HOME", "/work")])
            .env_remove("PATH");
        assert_eq!(env(&c), ["A=1", "B=2", "HOME=/work"]);
        // Removing then setting again keeps the later value.
        let c = Command::new("x").env_remove("A").env("A", "3");
        assert_eq!(env(&c), ["A=3", "HOME=/tmp", "PATH=/usr/bin"]);
        let c = Command::new("x").env("A", "1").env_clear().env("C", "4");
        assert_eq!(env(&c), ["C=4"]);
        assert!(
            Command::new("x")
                .env("A=B", "1")
                .environment(&base)
                .is_err()
        );
        assert!(Command::new("x").env_remove("").environment(&base).is_err());
    }
}
