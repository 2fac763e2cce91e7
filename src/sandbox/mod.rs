//! The `Sandbox` builder: configuration, validation and everything prepared once per sandbox.
//!
//! A [`Sandbox`] is immutable, `Send + Sync` and reusable: the mount plan, the seccomp BPF
//! programs and the landlock rules are computed by [`SandboxBuilder::build`], so a run only
//! creates pipes, clones and supervises.

#[cfg(feature = "tokio")]
mod async_run;
pub mod cgroup;
pub mod child;
mod init;
pub mod landlock;
mod launcher;
pub mod limits;
pub mod outcome;
pub(crate) mod rootfs;
pub mod seccomp;
mod spawn;
mod workspace;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "tokio")]
pub use self::async_run::AsyncChild;
pub use self::cgroup::CgroupMode;
pub use self::landlock::{LandlockReport, LandlockRequire};
pub use self::limits::Limits;
pub use self::outcome::{Enforced, Outcome, Report, Verdict, Violation};
pub use self::rootfs::{Mount, MountKind};
pub use self::spawn::{Child, Input, Output};
pub use self::workspace::{WORKSPACE_DIR, Workspace};
use crate::error::{Error, Result};
use crate::profile::{Network, Profile};

/// What to run inside a sandbox: a program, its arguments, extra environment and directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    /// Per-run mounts on top of the sandbox's (job files: inputs, a work directory).
    mounts: Vec<Mount>,
}

impl Command {
    /// A program name (looked up on the sandbox's PATH, inside the sandbox) or a path inside the
    /// sandbox.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            mounts: Vec::new(),
        }
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
            .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
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
}

/// Configuration being assembled; see [`Sandbox::builder`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    profile: Profile,
    extra_mounts: Vec<Mount>,
    seccomp_override: Option<String>,
    landlock_off: bool,
    cgroup_base: Option<PathBuf>,
}

fn cstring(what: &str, s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|_| Error::config(format!("{what} contains a NUL byte")))
}

impl SandboxBuilder {
    /// Start from a profile (replaces everything set so far except extra mounts).
    pub fn profile(mut self, p: Profile) -> Self {
        self.profile = p;
        self
    }

    /// Bind a host path read-only at `dst` inside the sandbox.
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
    pub fn workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.profile.workdir = dir.into();
        self
    }

    /// Set an environment variable of the sandbox.
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.profile.env.insert(k.into(), v.into());
        self
    }

    /// Replace the whole environment.
    pub fn env_clear(mut self) -> Self {
        self.profile.env.clear();
        self
    }

    pub fn wall_time(mut self, d: Duration) -> Self {
        self.profile.limits.wall_time = d;
        self
    }
    pub fn cpu_time(mut self, d: Duration) -> Self {
        self.profile.limits.cpu_time = d;
        self
    }
    /// Memory limit in bytes: of the whole sandbox with cgroups, of each process's address
    /// space without.
    pub fn memory(mut self, bytes: u64) -> Self {
        self.profile.limits.memory = bytes;
        self
    }
    pub fn pids(mut self, n: u64) -> Self {
        self.profile.limits.pids = n;
        self
    }
    /// Per-stream output cap in bytes.
    pub fn output_limit(mut self, bytes: u64) -> Self {
        self.profile.limits.output = bytes;
        self
    }
    /// CPU bandwidth of the whole sandbox in thousandths of a CPU (1000 = one core). Needs
    /// cgroups with the cpu controller: building fails where they are unavailable.
    pub fn cpu_quota(mut self, thousandths: u32) -> Self {
        self.profile.limits.cpu_quota = Some(thousandths);
        self
    }

    /// Whether memory and process limits go through cgroups. Default
    /// [`CgroupMode::Auto`]: where this process may create cgroups under its own, the memory
    /// limit covers the whole tree and an OOM kill is reported as `memory_limit`; elsewhere
    /// rlimits enforce the limits (see [`Enforced::limit_mechanisms`]).
    pub fn cgroups(mut self, mode: CgroupMode) -> Self {
        self.profile.cgroups = mode;
        self
    }

    /// Create the sandbox's cgroups under this cgroup v2 directory (one delegated to this
    /// process, with `memory` and `pids` enabled in its `cgroup.subtree_control`) instead of
    /// under this process's own cgroup.
    pub fn cgroup_v2_base(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cgroup_base = Some(dir.into());
        self
    }

    pub fn file_size(mut self, bytes: u64) -> Self {
        self.profile.limits.file_size = bytes;
        self
    }
    pub fn open_files(mut self, n: u64) -> Self {
        self.profile.limits.open_files = n;
        self
    }
    pub fn tmp_size(mut self, bytes: u64) -> Self {
        self.profile.limits.tmp_size = bytes;
        self
    }
    /// All limits at once.
    pub fn limits(mut self, l: Limits) -> Self {
        self.profile.limits = l;
        self
    }

    /// Network of the sandbox (`Network::Loopback` is a weakening: it brings `lo` up and lifts
    /// the landlock TCP restriction).
    pub fn network(mut self, n: Network) -> Self {
        self.profile.network = n;
        self
    }

    /// Hostname inside the sandbox.
    pub fn hostname(mut self, h: impl Into<String>) -> Self {
        self.profile.hostname = h.into();
        self
    }

    /// uid/gid of the program inside the sandbox (must not be 0).
    pub fn ids(mut self, uid: u32, gid: u32) -> Self {
        self.profile.uid = uid;
        self.profile.gid = gid;
        self
    }

    /// Host uid/gid the sandbox maps to when the host runs as root (default 65534).
    pub fn host_ids(mut self, uid: u32, gid: u32) -> Self {
        self.profile.host_uid = uid;
        self.profile.host_gid = gid;
        self
    }

    /// Seccomp policy by built-in name or path; `"none"` disables seccomp (a weakening).
    pub fn seccomp(mut self, policy: impl Into<String>) -> Self {
        self.seccomp_override = Some(policy.into());
        self
    }

    /// Landlock features that must be enforced.
    pub fn landlock_require(mut self, r: LandlockRequire) -> Self {
        self.profile.landlock_require = r;
        self
    }

    /// Enforce what the kernel supports instead of failing (a weakening; the outcome reports
    /// what was enforced).
    pub fn landlock_best_effort(mut self, on: bool) -> Self {
        self.profile.landlock_best_effort = on;
        self
    }

    /// Turn landlock off entirely (a weakening, meant for tests that prove which layer stops
    /// an attack; the outcome then reports landlock as not enforced).
    pub fn without_landlock(mut self) -> Self {
        self.landlock_off = true;
        self
    }

    /// A private /dev/shm.
    pub fn dev_shm(mut self, on: bool) -> Self {
        self.profile.dev_shm = on;
        self
    }

    /// A new devpts instance at /dev/pts (and /dev/ptmx), for programs that need a terminal.
    pub fn devpts(mut self, on: bool) -> Self {
        self.profile.devpts = on;
        self
    }

    /// Validate and prepare everything a run needs. Nothing runs yet.
    pub fn build(self) -> Result<Sandbox> {
        let p = &self.profile;
        p.limits.validate()?;
        if p.uid == 0 || p.gid == 0 {
            return Err(Error::config(
                "the sandbox uid/gid must not be 0: the program runs unprivileged",
            ));
        }
        if p.host_uid == 0 || p.host_gid == 0 {
            return Err(Error::config(
                "the sandbox must not map to host root (host_uid/host_gid 0)",
            ));
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
        let (cgroups, cgroup_state) = self.cgroup_pool()?;
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
            host_uid: p.host_uid,
            host_gid: p.host_gid,
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
            rlimits: p.limits.rlimits(cgroup_memory_only),
            cgroups,
            last_cap,
            landlock,
            seccomp: seccomp_programs,
            seccomp_listener,
            root: plan,
            enforced,
        };
        Ok(Sandbox {
            builder: self,
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
}

// A Sandbox is shared between threads: keep it that way at compile time.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sandbox>();
};

/// A validated, prepared sandbox configuration. Cheap to clone, safe to share between threads,
/// reusable for any number of runs.
#[derive(Clone)]
pub struct Sandbox {
    builder: SandboxBuilder,
    prepared: Arc<Prepared>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("profile", &self.builder.profile.name)
            .field("enforced", &self.prepared.enforced)
            .finish()
    }
}

impl SandboxBuilder {
    /// The cgroup pool of the sandbox being built, and the `Enforced::cgroup` text. Creating
    /// the pool's parent directory is also the check that this process may create cgroups.
    fn cgroup_pool(&self) -> Result<(Option<cgroup::Pool>, String)> {
        let p = &self.profile;
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
        match cgroup::Pool::new(&detected, &settings) {
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
            extra_mounts: Vec::new(),
            seccomp_override: None,
            landlock_off: false,
            cgroup_base: None,
        }
    }
}

impl Sandbox {
    /// A builder starting from the built-in `default` profile.
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

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.builder.profile.limits
    }

    /// Run `cmd` with `stdin` as its standard input, capturing stdout and stderr (each up to
    /// the output limit). Blocks until the whole sandbox is gone.
    pub fn run(&self, cmd: &Command, stdin: &[u8]) -> Result<Outcome> {
        spawn::run(
            self,
            cmd,
            Input::Bytes(stdin),
            Output::Capture,
            Output::Capture,
        )
    }

    /// Run with explicit input and output handling (stream from/to host file descriptors).
    pub fn run_with(
        &self,
        cmd: &Command,
        stdin: Input<'_>,
        stdout: Output<'_>,
        stderr: Output<'_>,
    ) -> Result<Outcome> {
        spawn::run(self, cmd, stdin, stdout, stderr)
    }

    /// Start `cmd` and return a handle with its pipes, for interactive use. The wall-time limit
    /// is enforced by [`Child::wait`]; output limits are the caller's business (it owns the
    /// pipes).
    ///
    /// The sandbox lives until it ends, is killed, its `Child` is dropped, or the host process
    /// exits (sandboxes are started from launcher threads that live as long as the process, so
    /// the thread that called `spawn` may end first).
    pub fn spawn(&self, cmd: &Command) -> Result<Child> {
        spawn::spawn(self, cmd)
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        &self.prepared
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

    /// The host uid and gid the sandbox user maps to: the profile's for a root host, the host
    /// user's own otherwise (who owns what a run creates on a read-write bind).
    pub fn host_ids(&self) -> (u32, u32) {
        // SAFETY: plain getters.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if euid == 0 {
            let p = &self.builder.profile;
            (p.host_uid, p.host_gid)
        } else {
            (euid, egid)
        }
    }

    pub(crate) fn profile(&self) -> &Profile {
        &self.builder.profile
    }
}
