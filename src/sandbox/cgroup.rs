//! cgroup limits and accounting: memory, process count and CPU quota of a sandbox's whole
//! process tree, with peak memory, OOM kills and limit hits measured per run.
//!
//! Two host layouts are supported:
//!
//! - **cgroup v2** when a writable delegated subtree exists: either the process's own cgroup
//!   (only usable when it already lists `memory` and `pids` in its `cgroup.subtree_control`,
//!   which the no-internal-process rule allows only for the root cgroup) or an explicit base
//!   directory given by the caller (which must be on a cgroup2 filesystem). Leaves get
//!   `memory.max`, `memory.swap.max = 0` (where swap accounting exists, see
//!   [`Pool::swap_capped`]), `memory.oom.group = 1`, `pids.max` and `cpu.max`; the peak comes
//!   from `memory.peak` through a per-leaf file descriptor (resettable since Linux 6.12), OOM
//!   kills and limit hits (`max`, `oom`) from `memory.events`, and `cgroup.kill` kills a whole
//!   leaf.
//! - **cgroup v1** (a hybrid host, as root): one directory per hierarchy (memory, pids, and
//!   cpu when a CPU quota is set). Leaves get `memory.limit_in_bytes`,
//!   `memory.memsw.limit_in_bytes` (where swap accounting exists), `pids.max` and
//!   `cpu.cfs_quota_us`, and the OOM killer is switched on in `memory.oom_control` when the
//!   parent disabled it (the kernel copies `oom_kill_disable` into new cgroups); the peak is
//!   `memory.max_usage_in_bytes`, OOM kills the `oom_kill` counter of `memory.oom_control`,
//!   limit hits `memory.failcnt` and `memory.memsw.failcnt` or, as recent kernels leave the
//!   memsw count at 0, a memory or memsw peak within one huge page of the limit.
//!
//! Creating and removing a cgroup per run is slow in the tail and removed v1 memory cgroups
//! linger in the kernel, so a [`Pool`] keeps leaf cgroups for one sandbox: a released leaf
//! whose processes are gone waits idle (at most [`MAX_IDLE`] of them; further ones are
//! removed) for the next run. When a run takes an idle leaf, the memory still charged to it
//! (page cache of files the previous run read, shared memory freed after the reap) is
//! checked: above `max(4 MiB, memory limit / 16)` the leaf is removed and another one taken,
//! otherwise the peak and the failure counters are reset and the OOM and limit baselines
//! recorded right then, so that a run's figures start close to zero. The charge is never
//! forced out (`memory.force_empty`, `memory.reclaim` would evict page cache shared with the
//! host). [`Pool::new`] makes no leaf (and on v1 no directory at all): it checks that the
//! directories can be made and learns whether swap is accounted, and the first run makes
//! the cgroups, so a sandbox's build and the drop of one that never ran cost no cgroup
//! directory; a limit the kernel only refuses in a leaf fails that first run, typed. The
//! pool removes everything it created when its last user goes away.
//!
//! runcell only ever creates, writes and removes directories below its own parent directories
//! `runcell-<pid>-<seq>-<pidns>`, created under the process's own cgroup of each hierarchy (or
//! under the explicit v2 base), and removes empty leftovers of such directories whose creator
//! is dead. It never writes to the base directory itself. A cgroup path with `..` (a process
//! outside its cgroup namespace's root) is refused.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::fork;
use crate::error::Error;

/// Whether a sandbox uses cgroups.
///
/// cgroups limit the memory and process count of the whole process tree (rlimits only limit
/// each process) and measure its peak memory and OOM kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupMode {
    /// Use cgroups when the host offers a writable hierarchy, otherwise fall back to rlimits
    /// (reported in `Enforced::limit_mechanisms`).
    #[default]
    Auto,
    /// Never use cgroups: rlimits only.
    Off,
    /// Fail to build the sandbox when cgroups are unavailable.
    Require,
}

/// The limits a pool writes into each of its leaves. They never change during a pool's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Memory of the whole tree in bytes (without swap).
    pub memory: u64,
    /// Maximum number of tasks at once, the sandbox's init process included.
    pub pids: u64,
    /// CPU quota in thousandths of a CPU (1500 = 1.5 CPUs), or none.
    pub cpu_quota: Option<u32>,
}

/// Peak memory, OOM kills and memory limit hits of one run, measured since its leaf was
/// acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Usage {
    /// Highest memory use of the leaf in bytes, page cache included; `None` when the kernel
    /// does not provide it.
    pub peak_memory: Option<u64>,
    /// Processes killed by the OOM killer in the leaf.
    pub oom_kills: u64,
    /// The leaf's memory limit was reached during the run (v1: `memory.failcnt` or
    /// `memory.memsw.failcnt` counted, or the memory or memsw peak came within one huge page
    /// of the limit; v2: the `max` or `oom` events of `memory.events`). An OOM kill without
    /// it came from a host-wide OOM, not from the sandbox's limit.
    pub limit_hit: bool,
}

/// The cgroup layout the host offers to this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Detected {
    /// Hybrid or legacy host: this process's own cgroup directory in each hierarchy.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        /// Present when a hierarchy carries the `cpu` controller (needed for a CPU quota).
        cpu: Option<PathBuf>,
        /// Swap accounting (`memory.memsw.*`) exists.
        memsw: bool,
    },
    /// Unified host: the base directory runcell creates its parent in, whose
    /// `cgroup.subtree_control` lists `memory` and `pids`.
    V2 {
        base: PathBuf,
        /// The base also delegates the `cpu` controller.
        cpu: bool,
    },
}

impl Detected {
    /// `"cgroup_v1"` or `"cgroup_v2"`.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Detected::V1 { .. } => "cgroup_v1",
            Detected::V2 { .. } => "cgroup_v2",
        }
    }

    /// Whether a CPU quota can be enforced.
    pub fn cpu(&self) -> bool {
        match self {
            Detected::V1 { cpu, .. } => cpu.is_some(),
            Detected::V2 { cpu, .. } => *cpu,
        }
    }
}

/// Detect the cgroup layout of this process from `/proc/self/cgroup` and
/// `/proc/self/mountinfo`. `v2_base` is a delegated cgroup v2 directory chosen by the caller;
/// it replaces automatic detection. The automatic result is cached for the process.
///
/// The error is a human-readable reason why no usable hierarchy exists.
pub(crate) fn detect(v2_base: Option<&Path>) -> Result<Detected, String> {
    fn now(v2_base: Option<&Path>) -> Result<Detected, String> {
        let cg = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mi = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        detect_from(&cg, &mi, v2_base)
    }
    if let Some(base) = v2_base {
        // A plain directory would pass the checks of `detect_from` and then take runcell's
        // parent directories as if they were cgroups.
        if base.is_absolute() {
            let st = nix::sys::statfs::statfs(base)
                .map_err(|e| format!("cannot statfs {}: {e}", base.display()))?;
            if st.filesystem_type() != nix::sys::statfs::CGROUP2_SUPER_MAGIC {
                return Err(format!(
                    "{} is not on a cgroup2 filesystem (f_type {:#x})",
                    base.display(),
                    st.filesystem_type().0
                ));
            }
        }
        return now(v2_base);
    }
    static CACHE: OnceLock<Result<Detected, String>> = OnceLock::new();
    CACHE.get_or_init(|| now(None)).clone()
}

/// [`detect`] from the given contents of `/proc/self/cgroup` and `/proc/self/mountinfo`
/// (only the cgroup directories they point to are read). Prefers v2 when its base delegates
/// `memory` and `pids`, else v1 with memory and pids hierarchies.
pub(crate) fn detect_from(
    proc_self_cgroup: &str,
    mountinfo: &str,
    v2_base: Option<&Path>,
) -> Result<Detected, String> {
    if let Some(base) = v2_base {
        if !base.is_absolute() {
            return Err(format!(
                "cgroup v2 base {} is not an absolute path",
                base.display()
            ));
        }
        return v2_at(base);
    }
    let own: Vec<OwnCgroup<'_>> = proc_self_cgroup.lines().filter_map(own_cgroup).collect();
    let mounts: Vec<MountEntry> = mountinfo.lines().filter_map(mount_entry).collect();
    let v2 = match v2_auto(&own, &mounts) {
        Ok(d) => return Ok(d),
        Err(r) => r,
    };
    let v1 = match v1_auto(&own, &mounts) {
        Ok(d) => return Ok(d),
        Err(r) => r,
    };
    Err(format!(
        "no usable cgroup hierarchy (cgroup v2: {v2}; cgroup v1: {v1})"
    ))
}

/// One line of `/proc/self/cgroup`: `ID:controllers:path`.
struct OwnCgroup<'a> {
    /// Empty for the v2 line (`0::/path`).
    controllers: Vec<&'a str>,
    path: &'a str,
}

fn own_cgroup(line: &str) -> Option<OwnCgroup<'_>> {
    let mut parts = line.splitn(3, ':');
    let _id = parts.next()?;
    let controllers = parts.next()?;
    let path = parts.next()?;
    Some(OwnCgroup {
        controllers: controllers.split(',').filter(|c| !c.is_empty()).collect(),
        path,
    })
}

/// The fields of a `/proc/self/mountinfo` line that locate a cgroup hierarchy.
struct MountEntry {
    root: PathBuf,
    mountpoint: PathBuf,
    fstype: String,
    super_options: String,
}

fn mount_entry(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    if sep < 6 || fields.len() < sep + 4 {
        return None;
    }
    Some(MountEntry {
        root: unescape(fields[3]),
        mountpoint: unescape(fields[4]),
        fstype: fields[sep + 1].to_string(),
        super_options: fields[sep + 3].to_string(),
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Whether `p` has a `..` component.
fn has_parent_dir(p: &Path) -> bool {
    p.components().any(|c| c == Component::ParentDir)
}

/// Refuse a cgroup path of `/proc/self/cgroup` with `..`: the kernel shows a cgroup outside
/// the reader's cgroup namespace root that way, and joining it to a mount point would name a
/// directory outside the mount.
fn checked_path<'a>(path: &'a str, what: &str) -> Result<&'a str, String> {
    if has_parent_dir(Path::new(path)) {
        Err(format!(
            "this process's {what} cgroup {path} lies outside its cgroup namespace's root \
             (the path has \"..\")"
        ))
    } else {
        Ok(path)
    }
}

/// The directory of cgroup `path` in the mount `m`, when the mount shows that cgroup (never
/// for a path or mount with `..`).
fn dir_in_mount(m: &MountEntry, path: &str) -> Option<PathBuf> {
    if has_parent_dir(&m.root) || has_parent_dir(&m.mountpoint) {
        return None;
    }
    let rel = Path::new(path).strip_prefix(&m.root).ok()?;
    if has_parent_dir(rel) {
        return None;
    }
    Some(m.mountpoint.join(rel))
}

fn v2_auto(own: &[OwnCgroup<'_>], mounts: &[MountEntry]) -> Result<Detected, String> {
    let line = own
        .iter()
        .find(|o| o.controllers.is_empty())
        .ok_or("this process is not in a cgroup v2 hierarchy")?;
    checked_path(line.path, "v2")?;
    let base = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup2")
        .find_map(|m| dir_in_mount(m, line.path))
        .ok_or_else(|| format!("no cgroup2 mount shows this process's cgroup {}", line.path))?;
    v2_at(&base)
}

/// Check that `base` delegates `memory` and `pids` to its children.
fn v2_at(base: &Path) -> Result<Detected, String> {
    let sc = base.join("cgroup.subtree_control");
    let text = fs::read_to_string(&sc).map_err(|e| format!("cannot read {}: {e}", sc.display()))?;
    let enabled: Vec<&str> = text.split_whitespace().collect();
    let missing: Vec<&str> = ["memory", "pids"]
        .into_iter()
        .filter(|c| !enabled.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} not enabled in {} (runcell does not change the base cgroup: enable them there \
             or pass a delegated directory as the cgroup v2 base)",
            missing.join(", "),
            sc.display()
        ));
    }
    Ok(Detected::V2 {
        base: base.to_path_buf(),
        cpu: enabled.contains(&"cpu"),
    })
}

/// This process's directory in the v1 hierarchy carrying `controller`.
fn v1_dir(
    own: &[OwnCgroup<'_>],
    mounts: &[MountEntry],
    controller: &str,
) -> Result<PathBuf, String> {
    let line = own
        .iter()
        .find(|o| o.controllers.contains(&controller))
        .ok_or_else(|| format!("no {controller} hierarchy in /proc/self/cgroup"))?;
    checked_path(line.path, controller)?;
    let dir = mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller))
        .find_map(|m| dir_in_mount(m, line.path))
        .ok_or_else(|| format!("no mount of the {controller} hierarchy shows {}", line.path))?;
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    Ok(dir)
}

fn v1_auto(own: &[OwnCgroup<'_>], mounts: &[MountEntry]) -> Result<Detected, String> {
    let memory = v1_dir(own, mounts, "memory")?;
    let pids = v1_dir(own, mounts, "pids")?;
    let cpu = v1_dir(own, mounts, "cpu").ok();
    let memsw = memory.join("memory.memsw.limit_in_bytes").exists();
    Ok(Detected::V1 {
        memory,
        pids,
        cpu,
        memsw,
    })
}

/// Whether an error of [`Pool::new`] means "this host does not let us create cgroups" (no
/// permission, read-only hierarchy), so that [`CgroupMode::Auto`] falls back to rlimits.
pub(crate) fn unavailable(e: &Error) -> bool {
    match e {
        Error::Cgroup { what, source, .. } => {
            matches!(*what, "create" | "write cgroup.subtree_control")
                && matches!(
                    source.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EROFS)
                )
        }
        Error::Unsupported { .. } => true,
        _ => false,
    }
}

/// The few filesystem operations whose behaviour differs between cgroupfs and a plain
/// directory (cgroupfs creates interface files on mkdir, removes a directory that still has
/// them, validates writes, and treats each write as a command). Opening and reading use
/// `std::fs` directly.
trait CgFs: Send + Sync {
    fn mkdir(&self, p: &Path) -> io::Result<()>;
    fn rmdir(&self, p: &Path) -> io::Result<()>;
    /// Write `data` to an existing interface file in one `write(2)`.
    fn write(&self, p: &Path, data: &str) -> io::Result<()>;
    /// Write `data` in one `write(2)` to an interface file kept open (no open and close per
    /// write: ten times cheaper on cgroupfs).
    fn write_fd(&self, f: &File, data: &str) -> io::Result<()>;
}

/// The kernel's cgroupfs.
struct RealFs;

/// A short write to a cgroup file means the command was not taken whole.
fn full_write(n: usize, data: &str) -> io::Result<()> {
    if n == data.len() {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::WriteZero, "short write"))
    }
}

impl CgFs for RealFs {
    fn mkdir(&self, p: &Path) -> io::Result<()> {
        fs::create_dir(p)
    }
    fn rmdir(&self, p: &Path) -> io::Result<()> {
        fs::remove_dir(p)
    }
    fn write(&self, p: &Path, data: &str) -> io::Result<()> {
        let n = OpenOptions::new()
            .write(true)
            .open(p)?
            .write(data.as_bytes())?;
        full_write(n, data)
    }
    fn write_fd(&self, f: &File, data: &str) -> io::Result<()> {
        // cgroupfs ignores the offset of a write.
        full_write(f.write_at(data.as_bytes(), 0)?, data)
    }
}

/// Read an open interface file from its start (cgroupfs regenerates the content when a read
/// starts at offset 0). `buf` bounds the size.
fn pread<'a>(f: &File, buf: &'a mut [u8]) -> io::Result<&'a str> {
    let mut len = 0;
    while len < buf.len() {
        match f.read_at(&mut buf[len..], len as u64)? {
            0 => break,
            n => len += n,
        }
    }
    std::str::from_utf8(&buf[..len]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

static REAL_FS: RealFs = RealFs;

/// Period of the CFS bandwidth quota in microseconds (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// The kernel's largest `pids.max` (PID_MAX_LIMIT); above it the limit is "max".
const PID_MAX_LIMIT: u64 = 4 << 20;

/// Quota in microseconds per [`CPU_PERIOD_US`] for `thousandths` of a CPU (at least the
/// kernel's minimum of 1 ms).
fn cpu_quota_us(thousandths: u32) -> u64 {
    (u64::from(thousandths) * CPU_PERIOD_US / 1000).max(1000)
}

/// Process-wide sequence number of pools, for unique parent names.
static POOL_SEQ: AtomicU64 = AtomicU64::new(0);

/// This process's PID namespace (inode of `/proc/self/ns/pid`; 0 when unknown). It ends the
/// parent names, so that [`sweep_stale`] only judges parents whose creator's pid it can look
/// up: a pid of another namespace says nothing about liveness here.
fn pid_ns() -> u64 {
    // An atomic, not a `OnceLock`: a forked copy of the host never waits on an
    // initialisation its parent's thread had under way at the fork.
    static NS: AtomicU64 = AtomicU64::new(0);
    let ns = NS.load(Ordering::Relaxed);
    if ns != 0 {
        return ns;
    }
    let ns = fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino());
    NS.store(ns, Ordering::Relaxed);
    ns
}

/// The creator's pid and PID namespace from a parent name `runcell-<pid>-<seq>-<pidns>`.
fn parse_parent_name(name: &str) -> Option<(u32, u64)> {
    let mut it = name.strip_prefix("runcell-")?.split('-');
    let pid = it.next()?.parse().ok()?;
    let _seq: u64 = it.next()?.parse().ok()?;
    let ns = it.next()?.parse().ok()?;
    it.next().is_none().then_some((pid, ns))
}

/// Remove what runcell processes that ended without dropping their pools (exit with a live
/// sandbox, a crash) left in `dir`: parents created in this PID namespace by a pid that no
/// longer exists, and their leaves. Only empty cgroups go (rmdir refuses populated ones);
/// errors are ignored.
fn sweep_stale(fs: &dyn CgFs, dir: &Path) {
    let ns = pid_ns();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Some((pid, pns)) = e.file_name().to_str().and_then(parse_parent_name) else {
            continue;
        };
        if ns == 0 || pns != ns || pid == std::process::id() || crate::sys::pid_exists(pid) {
            continue;
        }
        let parent = e.path();
        if let Ok(leaves) = fs::read_dir(&parent) {
            for l in leaves.flatten() {
                if l.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = fs.rmdir(&l.path());
                }
            }
        }
        let _ = fs.rmdir(&parent);
    }
}

/// How a flat pool (see [`Pool::new_single`]) names its leaves: `runcell-<pid>-<seq>-<pidns>`
/// with `seq = base + n`, the same form as a pool's parent, so that [`sweep_stale`] removes
/// the leftovers of a killed process either way. `base` starts a block of [`FLAT_BLOCK`]
/// sequence numbers reserved in [`POOL_SEQ`]: names stay unique within the process.
#[derive(Debug, Clone, Copy)]
struct FlatNames {
    pid: u32,
    base: u64,
    ns: u64,
}

/// Sequence numbers reserved by one flat pool (one per leaf it may ever create).
const FLAT_BLOCK: u64 = 1 << 32;

/// Where a pool's cgroups live.
enum Layout {
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpu: Option<PathBuf>,
        memsw: bool,
    },
    V2 {
        parent: PathBuf,
    },
}

impl Layout {
    /// The parent directories, in creation order.
    fn parents(&self) -> Vec<&Path> {
        match self {
            Layout::V1 {
                memory, pids, cpu, ..
            } => {
                let mut v = vec![memory.as_path(), pids.as_path()];
                v.extend(cpu.as_deref());
                v
            }
            Layout::V2 { parent } => vec![parent.as_path()],
        }
    }

    /// Leaf `n`'s directories, one per parent (v1: memory first); `flat`: named as in
    /// [`FlatNames`] instead of `n`.
    fn leaf_dirs(&self, n: u32, flat: Option<FlatNames>) -> Vec<PathBuf> {
        let name = match flat {
            Some(f) => format!("runcell-{}-{}-{}", f.pid, f.base + u64::from(n), f.ns),
            None => n.to_string(),
        };
        self.parents().into_iter().map(|p| p.join(&name)).collect()
    }
}

/// Most idle leaves a pool keeps. A leaf released while as many wait is removed: each holds
/// its descriptors for as long as it waits, and a burst of concurrent runs would otherwise
/// keep them all for the pool's life.
pub(crate) const MAX_IDLE: usize = 8;

/// The floor of [`residue_limit`]: what a small run typically leaves charged (its own page
/// cache, kernel objects) is tolerated whatever the memory limit.
const RESIDUE_MIN: u64 = 4 << 20;

/// The most memory that may still be charged to an idle leaf handed to a run: more would
/// start the run's peak (and its room before the limit) from another run's page cache or
/// shared memory.
fn residue_limit(memory: u64) -> u64 {
    (memory / 16).max(RESIDUE_MIN)
}

/// How close to its limit a v1 leaf's peak must come to count as a limit hit: the largest
/// single charge (a PMD-sized folio), which fails when it would cross the limit.
const LIMIT_SLACK: u64 = 2 << 20;

/// Whether a v1 peak of `peak` bytes reached the limit `limit`: a charge failed there (and
/// the kernel reclaimed or OOM-killed). Needed because recent kernels (page counters with
/// `track_failcnt`, seen on 6.18) never count `memory.memsw.failcnt`, and with memsw limited
/// like memory the memsw charge is the one that fails: neither failure counter moves.
fn near_limit(peak: u64, limit: u64) -> bool {
    peak.saturating_add(LIMIT_SLACK) >= limit
}

/// One leaf cgroup (a directory per hierarchy), with the interface files used per run kept
/// open: opening and closing a cgroup file costs about 10 µs, a read or write through an open
/// descriptor about 1 µs. A v1 leaf holds 7 to 10 descriptors, a v2 leaf 5.
struct Leaf {
    n: u32,
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each directory (same order), written to join. Not read: in v1 a
    /// descriptor's process list is cached by the kernel for a second after each read.
    procs: Vec<File>,
    /// v1 only: `tasks` of each directory (same order), write-only, into which the setup
    /// process writes `0` to move itself (see [`Lease::self_join_fds`]). Empty on v2.
    tasks: Vec<File>,
    /// v1 `pids.current`, v2 `cgroup.events` (`populated`): whether processes remain.
    populated: File,
    /// v1 `memory.usage_in_bytes`, v2 `memory.current`: the memory still charged.
    current: File,
    /// v1 `memory.max_usage_in_bytes`, v2 `memory.peak`; both read and reset through this
    /// descriptor (v2: the reset only affects reads through it). `None` when the kernel has
    /// no such file.
    peak: Option<File>,
    /// v1 `memory.oom_control`, v2 `memory.events`: carry the `oom_kill` counter (v2: and the
    /// `max` and `oom` events).
    events: File,
    /// v1 with swap accounting: `memory.memsw.max_usage_in_bytes`, reset with `peak`.
    memsw_peak: Option<File>,
    /// v1 `memory.failcnt` and `memory.memsw.failcnt` (with swap accounting): how often the
    /// limit was hit, reset to 0 when the leaf is handed out.
    failcnt: Vec<File>,
    /// False when the peak cannot be reset (v2 before Linux 6.12): the leaf serves one run.
    reusable: bool,
    /// The leaf has been handed out since it was created. A fresh leaf needs no check nor
    /// reset: nothing was ever charged to it and its counters are zero.
    used: bool,
    /// The counters when the leaf was last handed out.
    base: Counters,
}

/// Cumulative counters of a leaf, compared with their values at acquire.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    oom_kills: u64,
    /// v1: the failure counts (reset to 0 at acquire; see also [`near_limit`]); v2: the
    /// `max` plus `oom` events.
    limit_hits: u64,
}

#[derive(Default)]
struct State {
    /// Empty leaves ready for a run (checked and reset when taken), at most [`MAX_IDLE`].
    idle: Vec<Leaf>,
    /// Numbers of every leaf created and not yet removed.
    created: BTreeSet<u32>,
    /// Leaves that could not be reused nor removed yet.
    retired: Vec<u32>,
    next: u32,
    /// The parent directories exist (always for a flat pool, whose parents are the
    /// process's own cgroups; a lazy v1 pool makes them with its first leaf).
    parents: bool,
}

struct Inner {
    /// The process that made this pool ([`fork::process_key`]): only it creates, resets or
    /// removes its cgroups. A forked copy of the host makes a pool of its own (see [`Pool`]).
    owner: u64,
    fs: &'static dyn CgFs,
    layout: Layout,
    /// A flat pool: the parents are the process's own cgroups (never created nor removed
    /// here) and the leaves are named as in [`FlatNames`].
    flat: Option<FlatNames>,
    settings: Settings,
    state: Mutex<State>,
    /// A leaf was created without a swap limit: the kernel has no swap accounting.
    swap_uncapped: AtomicBool,
}

/// A pool of leaf cgroups for one sandbox. Cheap to clone, shareable between threads; the
/// cgroups are removed when the last clone and the last [`Lease`] are gone.
///
/// A pool belongs to the process that made it. In a forked copy of the host (which holds
/// copies of the sandbox's handles) the first run makes a pool of the child's own, as
/// `Pool::new` would have there: its own parents `runcell-<childpid>-…` (v1 lazily, at that
/// run) and leaves, removed when the child's last copy of the handle is dropped (or, if the
/// child exits without dropping it, by the sweep of the next pool made on the host, or by
/// the parent's pool when it is dropped). The child never takes the parent's pool's lock, never
/// hands out, resets or removes one of its leaves, and never removes its parents.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

/// What the clones of a [`Pool`] share.
struct Shared {
    /// This process's pool: the one made by `new`, or in a forked copy of the host the one
    /// its first run made. A copy inherited from the parent is never used nor dropped here.
    own: fork::PerProcess<Arc<Inner>>,
    /// How a forked copy makes its own: the arguments `new` was given.
    recipe: Recipe,
}

/// The arguments of [`Pool::with_fs_flat`].
struct Recipe {
    detected: Detected,
    settings: Settings,
    fs: &'static dyn CgFs,
    flat: bool,
    lazy: bool,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parents: Vec<PathBuf> = self
            .shared
            .own
            .latest()
            .map(|i| i.layout.parents().iter().map(|p| p.to_path_buf()).collect())
            .unwrap_or_default();
        f.debug_struct("Pool")
            .field("mechanism", &self.mechanism())
            .field("parents", &parents)
            .field("settings", &self.shared.recipe.settings)
            .field("swap_capped", &self.swap_capped())
            .finish()
    }
}

fn cg_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Cgroup {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Total swap of the host in bytes (`SwapTotal` of `/proc/meminfo`; 0 when unreadable).
pub(crate) fn host_swap_total() -> u64 {
    fs::read_to_string("/proc/meminfo").map_or(0, |t| swap_total_from(&t))
}

/// `SwapTotal` in bytes from the contents of `/proc/meminfo` (0 when absent or malformed).
fn swap_total_from(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| {
            let mut it = l.strip_prefix("SwapTotal:")?.split_whitespace();
            let n: u64 = it.next()?.parse().ok()?;
            match it.next() {
                Some("kB") => n.checked_mul(1024),
                None => Some(n),
                Some(_) => None,
            }
        })
        .unwrap_or(0)
}

impl Pool {
    /// A pool whose cgroups are made when its first run needs a leaf, so that building a
    /// sandbox (and dropping one that never ran) costs no cgroup directory: a v1 memory
    /// cgroup costs 0.1–1 ms of wall time to create and as much to remove.
    ///
    /// What is checked now: v1, that this process may create the parent directory
    /// `runcell-<pid>-<seq>-<pidns>` in its own directory of each hierarchy used (write and
    /// search access, `faccessat(AT_EACCESS)`: no permission or a read-only hierarchy is
    /// reported here, see [`unavailable`]) and whether swap accounting exists (the
    /// hierarchy's `memory.memsw.limit_in_bytes`, found at detection); v2, the parent is
    /// made now with the controllers enabled in its `cgroup.subtree_control` (the probe of
    /// delegation) and swap accounting is whether it has `memory.swap.max`.
    ///
    /// What the first [`acquire`](Pool::acquire) does: removes the leftovers of dead runcell
    /// processes found in the own directories, makes the v1 parents, then the first leaf with
    /// its limits written. A limit the kernel refuses only in a leaf (a v1 CPU quota above
    /// an ancestor's), or a directory the kernel refuses despite the access check, fails that
    /// run (and every later one, retried each time) with the typed [`Error::Cgroup`], before
    /// any process exists. On error nothing created is left behind.
    pub fn new(d: &Detected, s: &Settings) -> Result<Pool, Error> {
        Self::with_fs_flat(d, s, &REAL_FS, false, true)
    }

    /// A flat pool, for a sandbox expected to serve a single run (a command-line invocation):
    /// no parent directory; each leaf is made directly in the process's own cgroup of each
    /// hierarchy, named `runcell-<pid>-<seq>-<pidns>` like a pool's parent (so the same sweep
    /// removes what a killed process left). Half the cgroup directories of [`Pool::new`] to
    /// create and to remove (a v1 memory cgroup costs 0.1–1 ms of wall time each way);
    /// otherwise the same pool: further runs get further leaves.
    pub fn new_single(d: &Detected, s: &Settings) -> Result<Pool, Error> {
        Self::with_fs_flat(d, s, &REAL_FS, true, false)
    }

    /// A pool that makes its parents and a first leaf now (kept idle), on `fs`.
    #[cfg(test)]
    fn with_fs(d: &Detected, s: &Settings, fs: &'static dyn CgFs) -> Result<Pool, Error> {
        Self::with_fs_flat(d, s, fs, false, false)
    }

    /// `flat`: see [`Pool::new_single`]; `lazy`: see [`Pool::new`] (not for a flat pool,
    /// which makes its first leaf now).
    fn with_fs_flat(
        d: &Detected,
        s: &Settings,
        fs: &'static dyn CgFs,
        flat: bool,
        lazy: bool,
    ) -> Result<Pool, Error> {
        let inner = Self::make(d, s, fs, flat, lazy)?;
        Ok(Pool {
            shared: Arc::new(Shared {
                own: fork::PerProcess::with(inner),
                recipe: Recipe {
                    detected: d.clone(),
                    settings: *s,
                    fs,
                    flat,
                    lazy,
                },
            }),
        })
    }

    /// The pool of the calling process: in a forked copy of the host, one of its own, made
    /// now by its first run (see [`Pool`]).
    fn current(&self) -> Result<&Arc<Inner>, Error> {
        let r = &self.shared.recipe;
        self.shared
            .own
            .get_or_try_init(|| Self::make(&r.detected, &r.settings, r.fs, r.flat, r.lazy))
    }

    /// The pool's state for [`Pool::with_fs_flat`].
    fn make(
        d: &Detected,
        s: &Settings,
        fs: &'static dyn CgFs,
        flat: bool,
        lazy: bool,
    ) -> Result<Arc<Inner>, Error> {
        if s.cpu_quota.is_some() && !d.cpu() {
            return Err(Error::Unsupported {
                feature: format!("the cgroup cpu controller ({})", d.mechanism()),
            });
        }
        let own_dirs: Vec<&Path> = match d {
            Detected::V1 {
                memory, pids, cpu, ..
            } => {
                let mut v = vec![memory.as_path(), pids.as_path()];
                v.extend(cpu.as_deref().filter(|_| s.cpu_quota.is_some()));
                v
            }
            Detected::V2 { base, .. } => vec![base.as_path()],
        };
        // A lazy v1 pool makes its parents (and sweeps) at its first leaf.
        let lazy_parents = lazy && !flat && matches!(d, Detected::V1 { .. });
        if !lazy_parents {
            for dir in own_dirs {
                sweep_stale(fs, dir);
            }
        }
        let pid = std::process::id();
        let ns = pid_ns();
        if flat {
            let layout = match d {
                Detected::V1 {
                    memory,
                    pids,
                    cpu,
                    memsw,
                } => Layout::V1 {
                    memory: memory.clone(),
                    pids: pids.clone(),
                    cpu: cpu.clone().filter(|_| s.cpu_quota.is_some()),
                    memsw: *memsw,
                },
                Detected::V2 { base, .. } => Layout::V2 {
                    parent: base.clone(),
                },
            };
            let names = FlatNames {
                pid,
                base: POOL_SEQ.fetch_add(FLAT_BLOCK, Ordering::Relaxed),
                ns,
            };
            return Self::with_layout(layout, Some(names), s, fs, false);
        }
        let mut attempt = 0;
        let layout = loop {
            let seq = POOL_SEQ.fetch_add(1, Ordering::Relaxed);
            let name = format!("runcell-{pid}-{seq}-{ns}");
            let layout = match d {
                Detected::V1 {
                    memory,
                    pids,
                    cpu,
                    memsw,
                } => Layout::V1 {
                    memory: memory.join(&name),
                    pids: pids.join(&name),
                    cpu: cpu
                        .as_ref()
                        .filter(|_| s.cpu_quota.is_some())
                        .map(|c| c.join(&name)),
                    memsw: *memsw,
                },
                Detected::V2 { base, .. } => Layout::V2 {
                    parent: base.join(&name),
                },
            };
            let made = if lazy_parents {
                Self::check_parents(&layout)
            } else {
                Self::create_parents(&layout, s, fs)
            };
            match made {
                Ok(()) => break layout,
                // A leftover of an earlier process with the same pid: take the next name.
                Err(Error::Cgroup { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists && attempt < 16 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        Self::with_layout(layout, None, s, fs, lazy)
    }

    /// The pool over its parents (existing unless `lazy` on v1, see [`Pool::new`]), with a
    /// first leaf kept idle unless `lazy`. On error, what was created (the leaf, non-flat
    /// parents) is removed.
    fn with_layout(
        layout: Layout,
        flat: Option<FlatNames>,
        s: &Settings,
        fs: &'static dyn CgFs,
        lazy: bool,
    ) -> Result<Arc<Inner>, Error> {
        // Known before any leaf exists where the files say so: v1 from detection, a v2
        // pool's own parent (a non-root cgroup with `memory` enabled) has
        // `memory.swap.max` exactly when swap accounting exists. A flat v2 pool's parent
        // may be the root cgroup, which has no such file: its first leaf (made now) tells.
        let swap_uncapped = match &layout {
            Layout::V1 { memsw, .. } => !memsw,
            Layout::V2 { parent } if flat.is_none() => !parent.join("memory.swap.max").exists(),
            Layout::V2 { .. } => false,
        };
        let parents = !(lazy && flat.is_none() && matches!(layout, Layout::V1 { .. }));
        let pool = Arc::new(Inner {
            owner: fork::process_key(),
            fs,
            layout,
            flat,
            settings: *s,
            state: Mutex::new(State {
                parents,
                ..State::default()
            }),
            swap_uncapped: AtomicBool::new(swap_uncapped),
        });
        if !lazy {
            // On error, dropping the pool removes the parents.
            let leaf = pool.new_leaf()?;
            pool.lock().idle.push(leaf);
        }
        Ok(pool)
    }

    /// What making the parents would meet, without making them: none exists yet (else
    /// `AlreadyExists`, as from mkdir) and this process may create each in its directory
    /// (write and search access with its effective credentials; a read-only hierarchy is
    /// `EROFS`). Reported as a failed `create` of the parent, like the mkdir it predicts.
    fn check_parents(layout: &Layout) -> Result<(), Error> {
        use nix::unistd::{AccessFlags, faccessat};
        for p in layout.parents() {
            if fs::symlink_metadata(p).is_ok() {
                return Err(cg_err("create", p)(io::ErrorKind::AlreadyExists.into()));
            }
            let dir = p.parent().unwrap_or(p);
            faccessat(
                nix::fcntl::AT_FDCWD,
                dir,
                AccessFlags::W_OK | AccessFlags::X_OK,
                nix::fcntl::AtFlags::AT_EACCESS,
            )
            .map_err(|e| cg_err("create", p)(io::Error::from_raw_os_error(e as i32)))?;
        }
        Ok(())
    }

    /// Make the parent directories; on failure remove those already made.
    fn create_parents(layout: &Layout, s: &Settings, fs: &dyn CgFs) -> Result<(), Error> {
        let parents = layout.parents();
        for (i, p) in parents.iter().enumerate() {
            if let Err(e) = fs.mkdir(p) {
                for q in parents[..i].iter().rev() {
                    let _ = fs.rmdir(q);
                }
                return Err(cg_err("create", p)(e));
            }
        }
        if let Layout::V2 { parent } = layout {
            let ctl = if s.cpu_quota.is_some() {
                "+memory +pids +cpu"
            } else {
                "+memory +pids"
            };
            let sc = parent.join("cgroup.subtree_control");
            if let Err(e) = fs.write(&sc, ctl) {
                let _ = fs.rmdir(parent);
                return Err(cg_err("write cgroup.subtree_control", &sc)(e));
            }
        }
        Ok(())
    }

    /// `"cgroup_v1"` or `"cgroup_v2"`.
    pub fn mechanism(&self) -> &'static str {
        self.shared.recipe.detected.mechanism()
    }

    /// Whether the leaves' swap is limited too (v1 `memory.memsw.limit_in_bytes`, v2
    /// `memory.swap.max = 0`). False when the kernel has no swap accounting: then the memory
    /// limit does not stop a sandbox from filling the host's swap.
    pub fn swap_capped(&self) -> bool {
        // A forked copy's own pool once it has one, else the inherited copy of the parent's
        // (only read: the same host and settings).
        let inner = self.shared.own.get().or_else(|| self.shared.own.latest());
        inner.is_none_or(|i| !i.swap_uncapped.load(Ordering::Relaxed))
    }

    /// A leaf for one run: an idle one whose leftover charge is small (peak and failure
    /// counters reset, OOM and limit baselines taken now), or a new one with the limits
    /// written. Idle leaves with too much still charged are removed on the way.
    pub fn acquire(&self) -> Result<Lease, Error> {
        let inner = self.current()?;
        loop {
            let Some(mut leaf) = inner.lock().idle.pop() else {
                break;
            };
            if inner.prepare(&mut leaf) {
                return Ok(Self::lease(inner, leaf));
            }
            inner.discard(leaf);
        }
        // The pool grows: a good moment to retry removing leaves that were still busy.
        let retired = std::mem::take(&mut inner.lock().retired);
        let still: Vec<u32> = retired
            .into_iter()
            .filter(|&r| !inner.remove_leaf_once(r))
            .collect();
        if !still.is_empty() {
            inner.lock().retired.extend(still);
        }
        let leaf = inner.new_leaf()?;
        Ok(Self::lease(inner, leaf))
    }

    fn lease(inner: &Arc<Inner>, mut leaf: Leaf) -> Lease {
        leaf.used = true;
        Lease {
            pool: inner.clone(),
            leaf: Some(leaf),
            tainted: AtomicBool::new(false),
        }
    }

    /// Directories of every cgroup this pool has created and not yet removed: the leaves'
    /// then the parents'.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn dirs(&self) -> Vec<PathBuf> {
        let Some(inner) = self.shared.own.get() else {
            return Vec::new();
        };
        let (created, parents): (Vec<u32>, bool) = {
            let st = inner.lock();
            (st.created.iter().copied().collect(), st.parents)
        };
        let mut v: Vec<PathBuf> = created
            .into_iter()
            .flat_map(|n| inner.layout.leaf_dirs(n, inner.flat))
            .collect();
        if inner.flat.is_none() && parents {
            v.extend(inner.layout.parents().into_iter().map(Path::to_path_buf));
        }
        v
    }

    /// This process's pool (made now in a forked copy). Tests only.
    #[cfg(test)]
    fn inner(&self) -> &Arc<Inner> {
        self.current().expect("this process's pool")
    }
}

/// The value of `key N` in a flat-keyed file (memory.events, memory.oom_control).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// The number in an open single-value interface file.
fn read_u64(f: &File) -> io::Result<u64> {
    let mut buf = [0u8; 32];
    pread(f, &mut buf)?
        .trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether `cgroup.procs` of `dir` lists no process (false when it cannot be read).
fn no_procs(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|s| s.trim().is_empty())
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A lazy v1 pool's first leaf: remove the leftovers of dead runcell processes in the
    /// own directories, then make the parents (on failure none is left). Under the lock, so
    /// that concurrent first runs make them once; retried by the next run after a failure.
    fn ensure_parents(&self) -> Result<(), Error> {
        let mut st = self.lock();
        if st.parents {
            return Ok(());
        }
        for p in self.layout.parents() {
            if let Some(own) = p.parent() {
                sweep_stale(self.fs, own);
            }
        }
        Pool::create_parents(&self.layout, &self.settings, self.fs)?;
        st.parents = true;
        Ok(())
    }

    /// Create a leaf under the next number; on error remove what exists of it.
    fn new_leaf(&self) -> Result<Leaf, Error> {
        self.ensure_parents()?;
        let n = {
            let mut st = self.lock();
            let n = st.next;
            st.next += 1;
            st.created.insert(n);
            n
        };
        // On error the leaf's files are closed when `create_leaf` returns.
        self.create_leaf(n)
            .inspect_err(|_| self.remove_or_retire(n))
    }

    /// Make leaf `n`, write its limits and open the files used per run. On error the caller
    /// removes what exists.
    fn create_leaf(&self, n: u32) -> Result<Leaf, Error> {
        let fs = self.fs;
        let s = &self.settings;
        let dirs = self.layout.leaf_dirs(n, self.flat);
        for d in &dirs {
            fs.mkdir(d).map_err(cg_err("create", d))?;
        }
        let write = |what: &'static str, dir: &Path, file: &str, v: &str| {
            let p = dir.join(file);
            fs.write(&p, v).map_err(cg_err(what, &p))
        };
        let open = |dir: &Path, file: &str, rw: bool| {
            let p = dir.join(file);
            OpenOptions::new()
                .read(true)
                .write(rw)
                .open(&p)
                .map_err(cg_err("open", &p))
        };
        let pids = if s.pids > PID_MAX_LIMIT {
            "max".to_string()
        } else {
            s.pids.to_string()
        };
        let mut reusable = true;
        let mut memsw_peak = None;
        let (current, peak, events, failcnt) = match &self.layout {
            Layout::V1 { memsw, .. } => {
                let mem = &dirs[0];
                let m = s.memory.to_string();
                // memsw must stay >= the memory limit: set the memory limit first.
                write(
                    "write memory.limit_in_bytes",
                    mem,
                    "memory.limit_in_bytes",
                    &m,
                )?;
                if *memsw {
                    write(
                        "write memory.memsw.limit_in_bytes",
                        mem,
                        "memory.memsw.limit_in_bytes",
                        &m,
                    )?;
                } else {
                    self.swap_uncapped.store(true, Ordering::Relaxed);
                }
                write("write pids.max", &dirs[1], "pids.max", &pids)?;
                if let (Some(q), Some(cpu)) = (s.cpu_quota, dirs.get(2)) {
                    let period = CPU_PERIOD_US.to_string();
                    let quota = cpu_quota_us(q).to_string();
                    write("write cpu.cfs_period_us", cpu, "cpu.cfs_period_us", &period)?;
                    write("write cpu.cfs_quota_us", cpu, "cpu.cfs_quota_us", &quota)?;
                }
                // A new memory cgroup copies `oom_kill_disable` from its parent: with it, a
                // run at its limit would hang instead of being OOM-killed. Written only when
                // set (the file is deprecated and a write logs a warning).
                let events = open(mem, "memory.oom_control", false)?;
                let mut buf = [0u8; 1024];
                let oc = pread(&events, &mut buf)
                    .map_err(cg_err("read", &mem.join("memory.oom_control")))?;
                if keyed(oc, "oom_kill_disable") != Some(0) {
                    write("write memory.oom_control", mem, "memory.oom_control", "0")?;
                }
                let mut failcnt = vec![open(mem, "memory.failcnt", true)?];
                if *memsw {
                    failcnt.push(open(mem, "memory.memsw.failcnt", true)?);
                    memsw_peak = Some(open(mem, "memory.memsw.max_usage_in_bytes", true)?);
                }
                (
                    open(mem, "memory.usage_in_bytes", false)?,
                    Some(open(mem, "memory.max_usage_in_bytes", true)?),
                    events,
                    failcnt,
                )
            }
            Layout::V2 { .. } => {
                let d = &dirs[0];
                write("write memory.oom.group", d, "memory.oom.group", "1")?;
                write("write memory.max", d, "memory.max", &s.memory.to_string())?;
                match write("write memory.swap.max", d, "memory.swap.max", "0") {
                    // No swap accounting in this kernel: reported by `swap_capped`.
                    Err(Error::Cgroup { source, .. })
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        self.swap_uncapped.store(true, Ordering::Relaxed);
                    }
                    r => r?,
                }
                write("write pids.max", d, "pids.max", &pids)?;
                if let Some(q) = s.cpu_quota {
                    let v = format!("{} {CPU_PERIOD_US}", cpu_quota_us(q));
                    write("write cpu.max", d, "cpu.max", &v)?;
                }
                // Read-write to reset the peak between runs. A kernel without the reset
                // (< 6.12) refuses the write (or the opening): such a leaf serves one run, and
                // a fresh leaf's peak needs no reset.
                let peak = match open(d, "memory.peak", true) {
                    Ok(f) => Some(f),
                    Err(Error::Cgroup { source, .. })
                        if source.kind() == io::ErrorKind::NotFound =>
                    {
                        None
                    }
                    Err(_) => {
                        reusable = false;
                        Some(open(d, "memory.peak", false)?)
                    }
                };
                (
                    open(d, "memory.current", false)?,
                    peak,
                    open(d, "memory.events", false)?,
                    Vec::new(),
                )
            }
        };
        let procs = dirs
            .iter()
            .map(|d| open(d, "cgroup.procs", true))
            .collect::<Result<Vec<_>, _>>()?;
        let tasks = match self.layout {
            Layout::V1 { .. } => dirs
                .iter()
                .map(|d| {
                    let p = d.join("tasks");
                    OpenOptions::new()
                        .write(true)
                        .open(&p)
                        .map_err(cg_err("open", &p))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Layout::V2 { .. } => Vec::new(),
        };
        let populated = match self.layout {
            Layout::V1 { .. } => open(&dirs[1], "pids.current", false)?,
            Layout::V2 { .. } => open(&dirs[0], "cgroup.events", false)?,
        };
        Ok(Leaf {
            n,
            dirs,
            procs,
            tasks,
            populated,
            current,
            peak,
            events,
            memsw_peak,
            failcnt,
            reusable,
            used: false,
            // A new cgroup has seen no OOM kill nor limit hit.
            base: Counters::default(),
        })
    }

    /// The leaf's OOM kills and limit hits so far.
    fn counters(&self, leaf: &Leaf) -> Result<Counters, Error> {
        let file = match self.layout {
            Layout::V1 { .. } => "memory.oom_control",
            Layout::V2 { .. } => "memory.events",
        };
        let err = |e| cg_err("read oom_kill", &leaf.dirs[0].join(file))(e);
        let mut buf = [0u8; 1024];
        let text = pread(&leaf.events, &mut buf).map_err(err)?;
        let oom_kills = keyed(text, "oom_kill").ok_or_else(|| {
            err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no oom_kill line",
            ))
        })?;
        let limit_hits = match self.layout {
            Layout::V1 { .. } => {
                let mut sum = 0u64;
                for f in &leaf.failcnt {
                    let n = read_u64(f).map_err(cg_err("read failcnt", &leaf.dirs[0]))?;
                    sum = sum.saturating_add(n);
                }
                sum
            }
            Layout::V2 { .. } => keyed(text, "max")
                .unwrap_or(0)
                .saturating_add(keyed(text, "oom").unwrap_or(0)),
        };
        Ok(Counters {
            oom_kills,
            limit_hits,
        })
    }

    /// Whether the leaf has no process left (false when that cannot be read). v1 counts the
    /// tasks of the pids leaf (uncharged when reaped); v2 reads `populated` of
    /// `cgroup.events` (the condition for rmdir).
    fn is_empty(&self, leaf: &Leaf) -> bool {
        let mut buf = [0u8; 256];
        let Ok(text) = pread(&leaf.populated, &mut buf) else {
            return false;
        };
        match self.layout {
            Layout::V1 { .. } => text.trim() == "0",
            Layout::V2 { .. } => keyed(text, "populated") == Some(0),
        }
    }

    /// Make an idle leaf ready for a run; false when it must be removed instead: more than
    /// [`residue_limit`] is still charged to it, or a reset failed.
    fn prepare(&self, leaf: &mut Leaf) -> bool {
        if !leaf.used {
            return true;
        }
        let memory = self.settings.memory;
        match read_u64(&leaf.current) {
            // v1 also: a run must not start within reach of the limit, where its peak would
            // count as a limit hit (only with a memory limit of a few MiB).
            Ok(charged)
                if charged <= residue_limit(memory)
                    && (matches!(self.layout, Layout::V2 { .. })
                        || !near_limit(charged, memory)) => {}
            _ => return false,
        }
        self.reset(leaf).is_ok()
    }

    /// Peak back to the current usage, failure counters to 0, new OOM and limit baselines.
    fn reset(&self, leaf: &mut Leaf) -> Result<(), Error> {
        let (file, cmd) = match self.layout {
            Layout::V1 { .. } => ("memory.max_usage_in_bytes", "0"),
            Layout::V2 { .. } => ("memory.peak", "reset\n"),
        };
        if let Some(f) = &leaf.peak {
            self.fs
                .write_fd(f, cmd)
                .map_err(cg_err("reset", &leaf.dirs[0].join(file)))?;
        }
        if let Some(f) = &leaf.memsw_peak {
            self.fs
                .write_fd(f, "0")
                .map_err(cg_err("reset", &leaf.dirs[0]))?;
        }
        for f in &leaf.failcnt {
            self.fs
                .write_fd(f, "0")
                .map_err(cg_err("reset", &leaf.dirs[0]))?;
        }
        leaf.base = self.counters(leaf)?;
        Ok(())
    }

    /// Close a leaf's files and remove it, or leave it to a later attempt.
    fn discard(&self, leaf: Leaf) {
        let n = leaf.n;
        drop(leaf);
        self.remove_or_retire(n);
    }

    /// Remove leaf `n`, or note it for a later attempt when it is still busy.
    fn remove_or_retire(&self, n: u32) {
        if !self.remove_leaf_once(n) {
            self.lock().retired.push(n);
        }
    }

    /// Try once to remove leaf `n`; true when it is gone (and forgotten).
    fn remove_leaf_once(&self, n: u32) -> bool {
        let gone = self
            .layout
            .leaf_dirs(n, self.flat)
            .iter()
            .all(|d| match self.fs.rmdir(d) {
                Ok(()) => true,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            });
        if gone {
            self.lock().created.remove(&n);
        }
        gone
    }

    /// Remove `dir`, retrying while it is busy (processes still exiting) until `deadline`.
    fn rmdir_retry(&self, dir: &Path, deadline: Instant) -> bool {
        let mut pause = Duration::from_micros(100);
        loop {
            match self.fs.rmdir(dir) {
                Ok(()) => return true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(_) => return false,
            }
        }
    }
}

impl Drop for Inner {
    /// Remove every leaf and the parents; v2 kills what still runs in a leaf first. Failures
    /// are ignored: a drop cannot report them and must not panic.
    fn drop(&mut self) {
        if self.owner != fork::process_key() {
            // Not reached (a forked copy never drops the pool it inherited, see `Pool`), but
            // if it were: the cgroups are the parent's, and the state may have been changed
            // half-way by a thread of the parent at the fork. Left alone.
            let st = std::mem::take(self.state.get_mut().unwrap_or_else(|e| e.into_inner()));
            std::mem::forget(st);
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        let (created, parents): (Vec<u32>, bool) = {
            let mut st = self.lock();
            // Close the idle leaves' files first.
            st.idle.clear();
            (st.created.iter().copied().collect(), st.parents)
        };
        for n in created {
            for d in self.layout.leaf_dirs(n, self.flat) {
                if matches!(self.layout, Layout::V2 { .. }) && !no_procs(&d) {
                    let _ = self.fs.write(&d.join("cgroup.kill"), "1");
                }
                self.rmdir_retry(&d, deadline);
            }
        }
        // A flat pool's parents are the process's own cgroups; a lazy pool that never ran
        // made none.
        if self.flat.is_none() && parents {
            for p in self.layout.parents().into_iter().rev() {
                self.rmdir_retry(p, deadline);
                // What dead processes left beside it: a forked copy of this host that exited
                // without dropping its handles leaves its own pool's (empty) cgroups.
                if let Some(own) = p.parent() {
                    sweep_stale(self.fs, own);
                }
            }
        }
    }
}

/// One run's leaf cgroup, borrowed from a [`Pool`]; returned to it on drop.
pub(crate) struct Lease {
    pool: Arc<Inner>,
    /// Always `Some` until dropped.
    leaf: Option<Leaf>,
    /// A join failed part-way: a process may sit in some of the leaf's hierarchies only,
    /// where the emptiness check does not look, so the leaf is not reused.
    tainted: AtomicBool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("dirs", &self.dirs()).finish()
    }
}

impl Lease {
    /// The leaf's directories (v1: memory, pids, then cpu when used; v2: one).
    pub fn dirs(&self) -> &[PathBuf] {
        self.leaf.as_ref().map_or(&[], |l| &l.dirs)
    }

    /// Move process `pid` (a host pid) into the leaf, in every hierarchy. Called by the
    /// parent after clone and before the child goes on, so that all descendants inherit it.
    pub fn join(&self, pid: libc::pid_t) -> Result<(), Error> {
        let Some(leaf) = &self.leaf else {
            return Ok(());
        };
        let v = pid.to_string();
        for (f, d) in leaf.procs.iter().zip(&leaf.dirs) {
            if let Err(e) = self.pool.fs.write_fd(f, &v) {
                self.tainted.store(true, Ordering::Relaxed);
                return Err(cg_err("join", &d.join("cgroup.procs"))(e));
            }
        }
        Ok(())
    }

    /// v1: the leaf's `tasks` files (memory, pids, then cpu), open for writing, into which the
    /// sandbox's setup process writes `0` itself as its first step, before it starts anything;
    /// empty on v2, where the host joins it with [`Lease::join`].
    ///
    /// Why: on v1, moving a process through `cgroup.procs` (a thread group) takes the
    /// process-wide `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace
    /// period: 1–15 ms of wall time per run on a loaded host, with the child blocked behind
    /// it. Moving only the calling thread through `tasks` (`0` = the caller) skips that lock
    /// (the kernel's `cgroup_procs_write_start`), and the setup process is a single-threaded
    /// process, so the whole process moves. The files were opened by the host: v1 checks the
    /// opener's credentials, so the write is allowed from inside the new user namespace.
    pub fn self_join_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.leaf
            .as_ref()
            .map_or_else(Vec::new, |l| l.tasks.iter().map(File::as_raw_fd).collect())
    }

    /// Kill everything in the leaf (v2 `cgroup.kill`). v1 has no such file and returns false:
    /// there the PID namespace's end kills the tree.
    pub fn kill(&self) -> bool {
        if self.pool.owner != fork::process_key() {
            // A forked copy of the host dropping a run of its parent's: not its leaf.
            return false;
        }
        match (&self.pool.layout, self.dirs().first()) {
            (Layout::V2 { .. }, Some(d)) => self.pool.fs.write(&d.join("cgroup.kill"), "1").is_ok(),
            _ => false,
        }
    }

    /// Peak memory, OOM kills and limit hits since the leaf was acquired.
    pub fn usage(&self) -> Usage {
        let Some(leaf) = &self.leaf else {
            return Usage::default();
        };
        let peak_memory = leaf.peak.as_ref().and_then(|f| read_u64(f).ok());
        let now = self.pool.counters(leaf).unwrap_or(leaf.base);
        let limit_hit = now.limit_hits > leaf.base.limit_hits
            || match self.pool.layout {
                Layout::V1 { .. } => {
                    let limit = self.pool.settings.memory;
                    let memsw_peak = leaf.memsw_peak.as_ref().and_then(|f| read_u64(f).ok());
                    [peak_memory, memsw_peak]
                        .into_iter()
                        .flatten()
                        .any(|p| near_limit(p, limit))
                }
                Layout::V2 { .. } => false,
            };
        Usage {
            peak_memory,
            oom_kills: now.oom_kills.saturating_sub(leaf.base.oom_kills),
            limit_hit,
        }
    }
}

impl Drop for Lease {
    /// The run is over and its processes are reaped: an empty, reusable leaf waits idle for
    /// the next run (checked and reset when taken) unless [`MAX_IDLE`] leaves already wait;
    /// any other is removed, or left to a later attempt or the pool's drop when still busy.
    fn drop(&mut self) {
        let Some(leaf) = self.leaf.take() else {
            return;
        };
        let pool = &self.pool;
        if pool.owner != fork::process_key() {
            // A lease of the parent's pool dropped in a forked copy of the host: the leaf is
            // the parent's to reuse or remove (only this copy's descriptors are closed).
            return;
        }
        if !self.tainted.load(Ordering::Relaxed) && leaf.reusable && pool.is_empty(&leaf) {
            let mut st = pool.lock();
            if st.idle.len() < MAX_IDLE {
                st.idle.push(leaf);
                return;
            }
        }
        pool.discard(leaf);
    }
}

#[cfg(test)]
mod tests;
