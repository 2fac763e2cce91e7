//! What a run produced: the verdict, the exit status, resource usage, the captured output and
//! what was enforced. Serialises to the JSON report of the CLI contract (DESIGN §5).

use std::time::Duration;

use serde::Serialize;

use super::landlock::LandlockReport;
use super::limits::Limits;

/// How a run ended.
///
/// A run the library could not start is an [`Error`](crate::Error), never a verdict; the CLI
/// reports it as `setup_error` (see [`Report::setup_error`]). New verdicts may be added, so a
/// `match` needs a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Exited with status 0.
    Ok,
    /// Exited with a non-zero status.
    ExitNonzero,
    /// Killed by a signal not attributable to a limit.
    Signaled,
    /// Still running at the wall-time limit; the whole tree was killed.
    WallTimeLimit,
    /// Used more CPU time than allowed.
    CpuTimeLimit,
    /// The OOM killer fired in the sandbox's cgroup (only reported where cgroups enforce the
    /// memory limit; with rlimits alone an allocation simply fails inside the program).
    MemoryLimit,
    /// Wrote more than the output limit to stdout or stderr; the whole tree was killed.
    OutputLimit,
    /// Made a system call the seccomp policy forbids.
    SecurityViolation,
}

impl Verdict {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::ExitNonzero => "exit_nonzero",
            Verdict::Signaled => "signaled",
            Verdict::WallTimeLimit => "wall_time_limit",
            Verdict::CpuTimeLimit => "cpu_time_limit",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::OutputLimit => "output_limit",
            Verdict::SecurityViolation => "security_violation",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A forbidden system call that ended the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Violation {
    /// The system call number (of the sandbox's architecture).
    pub syscall: i64,
    /// Its name, when runcell knows it.
    pub name: Option<String>,
}

/// What was really applied to a run (never what was merely asked for).
///
/// Kernel features differ between hosts: runcell enforces what exists (or fails to build when
/// the profile requires more) and says here what it did. [`Sandbox::enforced`] gives the same
/// before any run.
///
/// [`Sandbox::enforced`]: crate::Sandbox::enforced
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Enforced {
    /// Namespaces the sandbox was created in.
    pub namespaces: Vec<&'static str>,
    /// Landlock ABI and features in force.
    pub landlock: LandlockReport,
    /// Name of the seccomp policy installed (`none` when there is none).
    pub seccomp: String,
    /// The limits in force.
    pub limits: Limits,
    /// How each limit is enforced: `rlimit`, `host` (the supervisor), `tmpfs`, `cgroup_v1`,
    /// `cgroup_v2`, or both joined with `+` (e.g. `cgroup_v1+rlimit`).
    pub limit_mechanisms: std::collections::BTreeMap<&'static str, &'static str>,
    /// The cgroup version in use (`v1`, `v2`), or `none` with the reason.
    pub cgroup: String,
    /// uid of the program inside the sandbox.
    pub uid: u32,
    /// gid of the program inside the sandbox.
    pub gid: u32,
    /// Host uid the sandbox's uid maps to. In an [`Outcome`], the uid this run really used
    /// (leased from `host_id_range` when that is set); in
    /// [`Sandbox::enforced`](crate::Sandbox::enforced), before any run, the first id of the
    /// range, or the fixed uid, or the host user's own.
    pub host_uid: u32,
    /// Host gid the sandbox's gid maps to (as `host_uid`).
    pub host_gid: u32,
    /// The range each run of a root host leases its host uid and gid from (`FIRST-LAST`);
    /// `None` for fixed ids and for an unprivileged host (which maps to itself).
    pub host_id_range: Option<super::HostIdRange>,
    /// Network of the sandbox (`none` or `loopback`).
    pub network: &'static str,
    /// The mounts of the root, as `ro:SRC:DST`, `rw:SRC:DST`, `tmpfs:DST`, `symlink:DST`,
    /// `devpts:DST` and the files runcell generated (`file:/etc/hosts`, ...).
    pub mounts: Vec<String>,
}

/// The result of a finished run: how it ended, what it used, what it wrote, what was enforced.
///
/// ```
/// use runcell::{Command, Sandbox, Verdict};
///
/// let sandbox = Sandbox::builder().output_limit(4).build()?;
/// let outcome = sandbox.run(&Command::new("yes"), b"")?;
/// assert_eq!(outcome.verdict, Verdict::OutputLimit);
/// assert!(!outcome.success());
/// assert_eq!(outcome.stdout, b"y\ny\n");
/// assert!(outcome.stdout_truncated);
/// assert_eq!(outcome.signal, Some(9)); // the whole tree was killed
/// assert_eq!(outcome.shell_status(), 137);
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// How the run ended.
    pub verdict: Verdict,
    /// Exit status of the program, when it exited.
    pub exit_code: Option<i32>,
    /// Signal that killed the program (or the whole sandbox), when it was killed.
    pub signal: Option<i32>,
    /// Wall-clock time from start to the end of the sandbox.
    pub wall_time: Duration,
    /// User + system CPU time of every process of the sandbox.
    pub cpu_time: Duration,
    /// Peak resident set size of the largest process, in KiB (from rusage).
    pub max_rss_kib: u64,
    /// Peak memory of the whole sandbox in KiB, measured by its cgroup (page cache and
    /// tmpfs included); `None` without cgroups.
    pub max_memory_kib: Option<u64>,
    /// Captured stdout (at most the output limit); empty when the output was streamed.
    pub stdout: Vec<u8>,
    /// Captured stderr (at most the output limit); empty when the output was streamed.
    pub stderr: Vec<u8>,
    /// Bytes of stdout kept (captured or streamed).
    pub stdout_bytes: u64,
    /// Bytes of stderr kept (captured or streamed).
    pub stderr_bytes: u64,
    /// stdout went over the output limit (the run ended with `output_limit`).
    pub stdout_truncated: bool,
    /// stderr went over the output limit (the run ended with `output_limit`).
    pub stderr_truncated: bool,
    /// The forbidden system call, for `security_violation`.
    pub violation: Option<Violation>,
    /// What was applied to this run.
    pub enforced: Enforced,
}

/// The JSON report of the CLI contract (DESIGN §5). Every quantity names its unit: `*_ms`,
/// `*_kib` (the contract's `max_rss_kib`) and `*_bytes`.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Report<'a> {
    /// The verdict's name ([`Verdict::as_str`]), or `setup_error` when nothing ran.
    pub verdict: &'static str,
    /// Exit status of the program, when it exited.
    pub exit_code: Option<i32>,
    /// Signal that killed the program, when it was killed.
    pub signal: Option<i32>,
    /// Wall-clock time in milliseconds.
    pub wall_time_ms: u64,
    /// CPU time in milliseconds.
    pub cpu_time_ms: u64,
    /// Peak resident set size of the largest process, in KiB.
    pub max_rss_kib: u64,
    /// The same in bytes.
    pub max_rss_bytes: u64,
    /// Peak memory of the whole sandbox in KiB (cgroups only).
    pub max_memory_kib: Option<u64>,
    /// The same in bytes.
    pub max_memory_bytes: Option<u64>,
    /// Bytes of stdout kept.
    pub stdout_bytes: u64,
    /// Bytes of stderr kept.
    pub stderr_bytes: u64,
    /// stdout went over the output limit.
    pub stdout_truncated: bool,
    /// stderr went over the output limit.
    pub stderr_truncated: bool,
    /// The forbidden system call, for `security_violation`.
    pub violation: Option<&'a Violation>,
    /// What was applied (absent for `setup_error`).
    pub enforced: Option<&'a Enforced>,
    /// The error message, for `setup_error`.
    pub error: Option<String>,
}

impl Outcome {
    /// The JSON report for this outcome.
    pub fn report(&self) -> Report<'_> {
        Report {
            verdict: self.verdict.as_str(),
            exit_code: self.exit_code,
            signal: self.signal,
            wall_time_ms: self.wall_time.as_millis() as u64,
            cpu_time_ms: self.cpu_time.as_millis() as u64,
            max_rss_kib: self.max_rss_kib,
            max_rss_bytes: self.max_rss_kib.saturating_mul(1024),
            max_memory_kib: self.max_memory_kib,
            max_memory_bytes: self.max_memory_kib.map(|k| k.saturating_mul(1024)),
            stdout_bytes: self.stdout_bytes,
            stderr_bytes: self.stderr_bytes,
            stdout_truncated: self.stdout_truncated,
            stderr_truncated: self.stderr_truncated,
            violation: self.violation.as_ref(),
            enforced: Some(&self.enforced),
            error: None,
        }
    }

    /// The report as a JSON string.
    pub fn report_json(&self) -> String {
        serde_json::to_string_pretty(&self.report()).unwrap_or_default()
    }

    /// Whether the program ran to completion and exited with status 0 (`Verdict::Ok`).
    pub fn success(&self) -> bool {
        self.verdict == Verdict::Ok
    }

    /// The exit status a shell would see: the exit code, or 128 + the signal. A run ended at
    /// the wall-time or output limit has the status of the kill that ends it, 128 + SIGKILL,
    /// also when the program exited on its own while the kill was on its way (its last
    /// write taken, its output already over the limit): the status follows the limit, not
    /// which side won that race. [`Outcome::exit_code`] and [`Outcome::signal`] still say
    /// what the program did.
    ///
    /// ```
    /// use runcell::{Command, Sandbox, Verdict};
    ///
    /// // `head` writes 5000 bytes and exits at once, before or after the cut at 1000.
    /// let sandbox = Sandbox::builder().output_limit(1000).build()?;
    /// let outcome = sandbox.run(&Command::new("head").args(["-c", "5000", "/dev/zero"]), b"")?;
    /// assert_eq!(outcome.verdict, Verdict::OutputLimit);
    /// assert_eq!(outcome.shell_status(), 137);
    /// # Ok::<(), runcell::Error>(())
    /// ```
    pub fn shell_status(&self) -> i32 {
        match (self.verdict, self.exit_code, self.signal) {
            (Verdict::WallTimeLimit | Verdict::OutputLimit, ..) => 128 + libc::SIGKILL,
            (_, Some(c), _) => c,
            (_, None, Some(s)) => 128 + s,
            (_, None, None) => 125,
        }
    }
}

impl Report<'static> {
    /// A report for a run that could not be set up (verdict `setup_error`).
    pub fn setup_error(message: String) -> Self {
        Report {
            verdict: "setup_error",
            exit_code: None,
            signal: None,
            wall_time_ms: 0,
            cpu_time_ms: 0,
            max_rss_kib: 0,
            max_rss_bytes: 0,
            max_memory_kib: None,
            max_memory_bytes: None,
            stdout_bytes: 0,
            stderr_bytes: 0,
            stdout_truncated: false,
            stderr_truncated: false,
            violation: None,
            enforced: None,
            error: Some(message),
        }
    }
}
