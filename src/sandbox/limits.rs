//! Resource limits: the configured values, their validation, and the rlimits they become.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// Resource limits of one sandbox run. Every value must be non-zero.
///
/// Start from [`Limits::default`] (DESIGN §4) and change fields, or set single limits on the
/// builder. How to choose them: the wall time bounds how long a caller waits (set it from the
/// slowest legitimate input, not the average); the CPU time bounds work, and with several
/// processes each has its own RLIMIT_CPU; memory is the sandbox's total only with cgroups
/// (see [`Enforced::limit_mechanisms`](crate::Enforced::limit_mechanisms)), otherwise each
/// process's address space, which runtimes that reserve large ranges (JVM, V8, Go) need
/// raised; pids also bounds threads.
///
/// In reports, times serialise as milliseconds under both `wall_time` and `wall_time_ms`
/// (likewise `cpu_time`), sizes under both `memory` and `memory_bytes` (likewise `output`,
/// `file_size`, `tmp_size`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Wall-clock time from start to the kill of the whole tree (millisecond precision).
    pub wall_time: Duration,
    /// CPU time (user + system) per process, enforced with RLIMIT_CPU (whole seconds, rounded
    /// up) and checked against the measured total afterwards.
    pub cpu_time: Duration,
    /// Memory in bytes: of the whole sandbox (cgroup memory limit, no swap) where the host
    /// offers cgroups, otherwise the address space of each process (RLIMIT_AS).
    pub memory: u64,
    /// Number of processes the program may have at once (cgroup pids.max where available, and
    /// RLIMIT_NPROC inside the sandbox's own user namespace).
    pub pids: u64,
    /// CPU bandwidth of the whole sandbox in thousandths of one CPU (1000 = one core, 500 =
    /// half of one). Needs a cgroup with the cpu controller; `None` = no cap.
    pub cpu_quota: Option<u32>,
    /// Bytes of stdout, and separately of stderr, kept by the host; more ends the run with
    /// `output_limit`.
    pub output: u64,
    /// Largest file the program may write, in bytes (RLIMIT_FSIZE).
    pub file_size: u64,
    /// Open file descriptors per process (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Size of the private /tmp (and of the working directory's tmpfs, when it has one).
    pub tmp_size: u64,
    /// Stack size of each process in bytes (RLIMIT_STACK, soft and hard; `u64::MAX` =
    /// unlimited). `None` keeps the host's own RLIMIT_STACK. A value above the host's hard
    /// limit is lowered to it: an unprivileged process cannot raise it, and neither can the
    /// sandbox.
    pub stack: Option<u64>,
}

/// The report form of [`Limits`]: the historical unlabelled keys and the labelled ones.
#[derive(Serialize)]
struct LimitsReport {
    wall_time: u64,
    wall_time_ms: u64,
    cpu_time: u64,
    cpu_time_ms: u64,
    memory: u64,
    memory_bytes: u64,
    pids: u64,
    cpu_quota: Option<u32>,
    output: u64,
    output_bytes: u64,
    file_size: u64,
    file_size_bytes: u64,
    open_files: u64,
    tmp_size: u64,
    tmp_size_bytes: u64,
    stack_bytes: Option<u64>,
}

impl Serialize for Limits {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        LimitsReport {
            wall_time: ms(self.wall_time),
            wall_time_ms: ms(self.wall_time),
            cpu_time: ms(self.cpu_time),
            cpu_time_ms: ms(self.cpu_time),
            memory: self.memory,
            memory_bytes: self.memory,
            pids: self.pids,
            cpu_quota: self.cpu_quota,
            output: self.output,
            output_bytes: self.output,
            file_size: self.file_size,
            file_size_bytes: self.file_size,
            open_files: self.open_files,
            tmp_size: self.tmp_size,
            tmp_size_bytes: self.tmp_size,
            stack_bytes: self.stack,
        }
        .serialize(s)
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

impl Default for Limits {
    /// DESIGN §4: 10 s wall, 10 s CPU, 256 MiB, 64 processes, 1 MiB per output stream, 16 MiB
    /// files, 256 open files, 64 MiB /tmp.
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(10),
            cpu_time: Duration::from_secs(10),
            memory: 256 * MIB,
            pids: 64,
            cpu_quota: None,
            output: MIB,
            file_size: 16 * MIB,
            open_files: 256,
            tmp_size: 64 * MIB,
            stack: None,
        }
    }
}

impl Limits {
    /// Reject zero and absurd values with a message naming the limit.
    pub fn validate(&self) -> Result<()> {
        let week = Duration::from_secs(7 * 24 * 3600);
        let check = |name: &str, ok: bool, range: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::config(format!("{name} must be {range}")))
            }
        };
        check(
            "wall time",
            self.wall_time >= Duration::from_millis(1) && self.wall_time <= week,
            "between 1 ms and 7 days",
        )?;
        check(
            "CPU time",
            self.cpu_time >= Duration::from_millis(1) && self.cpu_time <= week,
            "between 1 ms and 7 days",
        )?;
        check(
            "memory",
            (MIB..=16 * TIB).contains(&self.memory),
            "between 1 MiB and 16 TiB",
        )?;
        check(
            "pids",
            (1..=1 << 22).contains(&self.pids),
            "between 1 and 4194304",
        )?;
        check(
            "CPU quota",
            self.cpu_quota.is_none_or(|q| (10..=1_000_000).contains(&q)),
            "between 10 (1% of a CPU) and 1000000 thousandths of a CPU",
        )?;
        check(
            "output limit",
            (1..=GIB).contains(&self.output),
            "between 1 byte and 1 GiB",
        )?;
        check(
            "file size",
            (1..=TIB).contains(&self.file_size),
            "between 1 byte and 1 TiB",
        )?;
        check(
            "open files",
            (4..=1 << 20).contains(&self.open_files),
            "between 4 and 1048576",
        )?;
        check(
            "tmp size",
            (4 * KIB..=64 * GIB).contains(&self.tmp_size),
            "between 4 KiB and 64 GiB",
        )?;
        check(
            "stack",
            self.stack
                .is_none_or(|n| n == u64::MAX || (16 * KIB..=TIB).contains(&n)),
            "between 16 KiB and 1 TiB, or unlimited",
        )?;
        Ok(())
    }

    /// The rlimits applied to the program, as (resource, soft, hard). With `cgroup_memory` the
    /// memory limit belongs to the cgroup, which counts what the tree really uses: no
    /// RLIMIT_AS then (it would fail allocations long before, and breaks runtimes that
    /// reserve large address ranges).
    ///
    /// `stack_hard` is the host's own hard RLIMIT_STACK: a stack limit above it is lowered to
    /// it (nobody in the sandbox could raise it, and setting it would fail).
    pub(crate) fn rlimits(
        &self,
        cgroup_memory: bool,
        stack_hard: u64,
    ) -> Vec<(libc::__rlimit_resource_t, u64, u64)> {
        let cpu = self.cpu_time.as_millis().div_ceil(1000) as u64;
        let memory = if cgroup_memory {
            libc::RLIM_INFINITY
        } else {
            self.memory
        };
        let mut v = vec![
            // SIGXCPU at the soft limit, SIGKILL one second later if it is caught.
            (libc::RLIMIT_CPU, cpu, cpu + 1),
            (libc::RLIMIT_AS, memory, memory),
            // The init process of the sandbox counts too.
            (libc::RLIMIT_NPROC, self.pids + 1, self.pids + 1),
            (libc::RLIMIT_FSIZE, self.file_size, self.file_size),
            (libc::RLIMIT_NOFILE, self.open_files, self.open_files),
            // No core dumps: they would be written by the host's core_pattern handler.
            (libc::RLIMIT_CORE, 0, 0),
        ];
        if let Some(n) = self.stack {
            let n = n.min(stack_hard);
            v.push((libc::RLIMIT_STACK, n, n));
        }
        v
    }
}

/// Parse a size such as `256M`, `64K`, `1G` or `1048576` (bytes).
pub(crate) fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => KIB,
                'M' => MIB,
                'G' => GIB,
                'T' => TIB,
                'B' => 1,
                _ => {
                    return Err(Error::config(format!(
                        "bad size {s:?}: unknown suffix {c:?}"
                    )));
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| Error::config(format!("bad size {s:?}: expected a number with K, M or G")))?;
    n.checked_mul(mult)
        .ok_or_else(|| Error::config(format!("bad size {s:?}: too large")))
}

/// Parse a duration in seconds (`2`, `0.5`, `1.25`).
pub(crate) fn parse_secs(s: &str) -> Result<Duration> {
    let v: f64 = s
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| Error::config(format!("bad time {s:?}: expected seconds")))?;
    secs_f64(v).ok_or_else(|| Error::config(format!("bad time {s:?}: out of range")))
}

/// Convert float seconds to a Duration, rejecting negative, NaN and huge values.
pub(crate) fn secs_f64(v: f64) -> Option<Duration> {
    if v.is_finite() && (0.0..=1e9).contains(&v) {
        Some(Duration::from_secs_f64(v))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_secs("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("abc").is_err());
    }

    #[test]
    fn zero_limits_rejected() {
        let mut l = Limits::default();
        assert!(l.validate().is_ok());
        l.pids = 0;
        assert!(l.validate().is_err());
        let l = Limits {
            wall_time: Duration::ZERO,
            ..Limits::default()
        };
        assert!(l.validate().unwrap_err().to_string().contains("wall time"));
    }

    #[test]
    fn stack_limit_is_clamped_to_the_host_hard_limit() {
        let stack = |l: &Limits, hard| {
            l.rlimits(true, hard)
                .into_iter()
                .find(|r| r.0 == libc::RLIMIT_STACK)
                .map(|r| (r.1, r.2))
        };
        let mut l = Limits::default();
        assert_eq!(stack(&l, u64::MAX), None);
        l.stack = Some(MIB);
        assert_eq!(stack(&l, u64::MAX), Some((MIB, MIB)));
        assert_eq!(stack(&l, 512 * KIB), Some((512 * KIB, 512 * KIB)));
        l.stack = Some(u64::MAX);
        assert!(l.validate().is_ok());
        assert_eq!(stack(&l, 8 * MIB), Some((8 * MIB, 8 * MIB)));
        l.stack = Some(KIB);
        assert!(l.validate().unwrap_err().to_string().contains("stack"));
    }
}
