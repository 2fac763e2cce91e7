//! Seccomp policies as data, compiled to BPF in the parent before `clone`.
//!
//! A policy is a TOML file under `policies/seccomp/` (the model is documented in the header of
//! `policies/seccomp/default.toml`). [`SeccompPolicy`] parses and validates it completely
//! (syscall names, constants, errno values, argument indexes), so that [`SeccompPolicy::compile`]
//! only turns an already valid policy into BPF: nothing is parsed, looked up or allocated in the
//! child, which just installs the ready [`CompiledSeccomp::programs`].
//!
//! # How a policy becomes BPF
//!
//! The rules that apply (under the sandbox's network setting) are grouped by action into
//! *segments* evaluated in order, first decision wins: the `kill` rules, then one segment per
//! distinct errno in the order the policy first uses them, then (when `default_action` is not
//! `allow`) the allow-list: a syscall some rule names is allowed, any other gets the default.
//!
//! Each syscall number is then resolved to a *leaf* (the segments' argument checks in that
//! order, or just a constant) and the code generator in `seccomp/bpf.rs` emits ONE program: the
//! architecture check (a foreign `seccomp_data.arch` is `SECCOMP_RET_KILL_PROCESS`), then a
//! binary search over the syscall number down to the leaves. On x86_64 the x32 range
//! (`nr >= 0x4000_0000`, `X32_SYSCALL_BIT`) is one more interval of the search, killed, except
//! `nr == -1` (what tracers use to skip a syscall; the kernel answers it with ENOSYS), which
//! gets the default. A syscall costs about log2(intervals) comparisons instead of a walk over
//! every named syscall, and the kernel's per-syscall action cache, computed at attach time by
//! emulating the filter for every syscall number, is cheap to build.
//!
//! One program keeps every `SECCOMP_RET_USER_NOTIF` in one filter: the kernel delivers a
//! notification only through the listener of the filter that returned it, and a process can
//! have only one listener. The policy action `kill` is `SECCOMP_RET_USER_NOTIF` (`kill =
//! "notify"`: the supervisor reports the syscall and kills the sandbox) or
//! `SECCOMP_RET_KILL_PROCESS` (`kill = "process"`).
//!
//! Earlier versions stacked a separate arch/x32 prelude program in front of a linear chain of
//! seccompiler segments; the tests keep that compiler (`seccomp/legacy.rs`, seccompiler as a
//! dev-dependency) and check that the single program decides every syscall number, every
//! architecture and the argument-filtered rules exactly as that stack did.
//!
//! # Installation
//!
//! [`CompiledSeccomp::programs`] holds one program (none for the `none` policy). Install with
//! `seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)` after `PR_SET_NO_NEW_PRIVS`; when
//! [`CompiledSeccomp::notify`] is true, pass `SECCOMP_FILTER_FLAG_NEW_LISTENER` (see
//! [`CompiledSeccomp::listener_index`]). The API keeps a list so a caller that installs
//! programs in order keeps working.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::fork::PerProcess;

use bpf::CmpOp;

use serde::Deserialize;

#[path = "seccomp/syscalls.rs"]
mod syscalls;

#[path = "seccomp/bpf.rs"]
mod bpf;

/// The built-in `default` policy (deny-list), embedded so the binary needs no data files.
const DEFAULT_POLICY: &str = include_str!("../../policies/seccomp/default.toml");
/// The built-in `strict` policy (allow-list for judge workloads).
const STRICT_POLICY: &str = include_str!("../../policies/seccomp/strict.toml");

/// Names accepted by [`SeccompPolicy::named`].
pub const BUILTIN_POLICIES: &[&str] = &["default", "strict", "none"];

/// Syscalls runcell's own child needs after the filter is installed: the payload sends the
/// notification listener to its init (`sendmsg`), closes it (`close`), execs the program
/// (`execve`), and on failure reports `(step, errno)` on the error pipe (`write`) and exits
/// (`exit_group`). Every policy must allow them unconditionally.
pub const REQUIRED_SYSCALLS: &[&str] = &["close", "execve", "exit_group", "sendmsg", "write"];

/// Kernel limit on the instructions of one filter (`BPF_MAXINSNS`).
const BPF_MAX_INSNS: usize = 4096;
/// `__X32_SYSCALL_BIT`: x32 syscalls on x86_64 are numbered from here.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_*` values (`linux/audit.h`): `EM_*` | 64-bit | little-endian.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;

/// Upper bound on the alternatives one rule expands to (`in`/`any_bits` conditions multiply).
const MAX_ALTERNATIVES: usize = 64;

/// What the host architecture needs: the audit value and the tables.
struct HostArch {
    audit: u32,
    /// `(name, number)` sorted by name, for this architecture.
    table: &'static [(&'static str, i64)],
    /// The other supported architecture's table: a name found only there is skipped, not an
    /// error, so one policy file serves both.
    other: &'static [(&'static str, i64)],
    /// Whether the x32 syscall range must be denied (x86_64 only).
    x32: bool,
}

#[cfg(target_arch = "x86_64")]
const HOST: Option<HostArch> = Some(HostArch {
    audit: AUDIT_ARCH_X86_64,
    table: syscalls::X86_64,
    other: syscalls::AARCH64,
    x32: true,
});

#[cfg(target_arch = "aarch64")]
const HOST: Option<HostArch> = Some(HostArch {
    audit: AUDIT_ARCH_AARCH64,
    table: syscalls::AARCH64,
    other: syscalls::X86_64,
    x32: false,
});

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOST: Option<HostArch> = None;

/// The syscall tables consulted when the host architecture is unsupported (names are still
/// validated, so a policy file can be checked anywhere).
const FALLBACK_TABLES: [&[(&str, i64)]; 2] = [syscalls::X86_64, syscalls::AARCH64];

/// Errors loading, parsing, validating or compiling a seccomp policy. Each names where the
/// problem is (file, line and column, rule) so a policy author can fix it without guessing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// The policy file could not be read.
    #[error("cannot read seccomp policy {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the policy model (unknown key, wrong type,
    /// missing field, inconsistent top-level settings).
    #[error("{origin}:{line}:{col}: invalid seccomp policy: {message}")]
    Parse {
        /// The file (or built-in name) the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// A rule names a syscall that exists on no supported architecture.
    #[error("{origin}:{line}:{col}: rule {rule}: unknown syscall \"{syscall}\"")]
    UnknownSyscall {
        /// The file (or built-in name).
        origin: String,
        /// The rule: its 1-based index and, when it has one, its name.
        rule: String,
        /// The name as written.
        syscall: String,
        /// 1-based line of the name.
        line: usize,
        /// 1-based column of the name.
        col: usize,
    },
    /// A rule is inconsistent: bad errno, unknown constant, bad argument index or width, a
    /// value that does not fit, missing or superfluous condition fields, ...
    #[error("{origin}:{line}:{col}: rule {rule}: {message}")]
    InvalidRule {
        /// The file (or built-in name).
        origin: String,
        /// The rule: its 1-based index and, when it has one, its name.
        rule: String,
        /// 1-based line of the offending item.
        line: usize,
        /// 1-based column of the offending item.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// The policy would deny a syscall runcell needs after installing the filter (see
    /// [`REQUIRED_SYSCALLS`]).
    #[error("{origin}: the policy must always allow {syscall}: {reason}")]
    RequiredSyscall {
        /// The file (or built-in name).
        origin: String,
        /// The syscall.
        syscall: &'static str,
        /// Why it is not allowed.
        reason: String,
    },
    /// [`SeccompPolicy::named`] got a name that is not a built-in policy.
    #[error("unknown built-in seccomp policy \"{name}\" (built-ins: default, strict, none)")]
    UnknownPolicy {
        /// The name asked for.
        name: String,
    },
    /// The code generator failed or the program is too long.
    #[error("seccomp policy {policy}: cannot compile: {message}")]
    Compile {
        /// The policy name.
        policy: String,
        /// What went wrong.
        message: String,
    },
    /// The host architecture has no syscall table here.
    #[error("seccomp policy {policy}: filters are not supported on this architecture")]
    UnsupportedArch {
        /// The policy name.
        policy: String,
    },
}

/// What a rule (or the default) does to a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Allow,
    Errno(u32),
    Kill,
}

/// How the `kill` action is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillMode {
    /// `SECCOMP_RET_USER_NOTIF`: the supervisor gets the syscall, reports it, kills the sandbox.
    Notify,
    /// `SECCOMP_RET_KILL_PROCESS`: the process dies with SIGSYS, nothing is reported.
    Process,
}

/// One validated rule, resolved for the host architecture.
#[derive(Clone, Debug)]
struct Rule {
    /// `#3 "mount-family"`, for messages and the report.
    label: String,
    action: Action,
    /// `Some(on)`: the rule only applies when the sandbox's network is `on`.
    network: Option<bool>,
    /// `(name, number)` of the named syscalls that exist on the host architecture.
    syscalls: Vec<(String, i64)>,
    /// Disjunction of conjunctions; empty means unconditional.
    alternatives: bpf::Alternatives,
    /// Human description of the conditions (empty when unconditional).
    condition_text: String,
}

/// A seccomp policy as data (one TOML file per policy under `policies/seccomp/`), parsed and
/// validated. Cheap to clone; compile it with [`SeccompPolicy::compile`].
#[derive(Clone, Debug)]
pub struct SeccompPolicy {
    name: String,
    description: String,
    /// The built-in `none`: no filter at all.
    disabled: bool,
    default_action: Action,
    kill_mode: KillMode,
    rules: Vec<Rule>,
    /// A built-in policy's process-wide cache (see [`Builtin`]); `None` for a policy read
    /// from a file or text.
    builtin: Option<BuiltinRef>,
}

/// What is computed once per process for a built-in policy: its parse and its compilations
/// (per network setting and kill mode). The policy text is embedded in the crate and a
/// policy value cannot be changed except through [`SeccompPolicy::with_kill_process`] (a key
/// of the cache), so every `build()` of a sandbox with a built-in policy would redo the same
/// work: parsing the TOML and compiling it was ~25% of a `build()` without cgroups.
///
/// Both are per process ([`PerProcess`]): a forked copy of the host never waits on a lock
/// (or a one-time initialisation) that a thread of its parent held at the fork.
struct Builtin {
    parsed: PerProcess<SeccompPolicy>,
    compiled: PerProcess<Mutex<Vec<(bool, KillMode, CompiledSeccomp)>>>,
}

impl Builtin {
    const fn new() -> Builtin {
        Builtin {
            parsed: PerProcess::new(),
            compiled: PerProcess::new(),
        }
    }

    /// The parsed policy (parsed on first use; a parse error is returned, never cached).
    fn policy(&'static self, text: &str, origin: &str) -> Result<SeccompPolicy, SeccompError> {
        self.parsed
            .get_or_try_init(|| {
                let mut p = SeccompPolicy::from_toml_str(text, origin)?;
                p.builtin = Some(BuiltinRef(self));
                Ok(p)
            })
            .cloned()
    }
}

/// A reference to a built-in policy's cache (Debug without its content).
#[derive(Clone, Copy)]
struct BuiltinRef(&'static Builtin);

impl fmt::Debug for BuiltinRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("built-in")
    }
}

static DEFAULT_BUILTIN: Builtin = Builtin::new();
static STRICT_BUILTIN: Builtin = Builtin::new();

/// A policy compiled for one network setting: BPF programs ready for
/// `SECCOMP_SET_MODE_FILTER`, built in the parent so the child only installs them.
#[derive(Clone)]
pub struct CompiledSeccomp {
    /// The policy's name (for the report's `enforced` section).
    pub name: String,
    /// The programs, each non-empty, to install IN THIS ORDER (the kernel evaluates the last
    /// installed first and applies the most severe result of all): one program, or none for
    /// the `none` policy.
    pub programs: Vec<Vec<libc::sock_filter>>,
    /// True when the policy's `kill` is `SECCOMP_RET_USER_NOTIF`: install the last program with
    /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`, hand the listener to the supervisor, which reports a
    /// notification as `security_violation` (`data.nr`, [`syscall_name`]) and kills the sandbox.
    pub notify: bool,
    /// A short human list of what is denied, for the report.
    pub denied_summary: Vec<String>,
}

impl CompiledSeccomp {
    /// Index of the program that must be installed with `SECCOMP_FILTER_FLAG_NEW_LISTENER`
    /// (always the last one), or `None` when no listener is needed.
    pub fn listener_index(&self) -> Option<usize> {
        if self.notify {
            self.programs.len().checked_sub(1)
        } else {
            None
        }
    }

    /// Total number of BPF instructions over all programs.
    pub fn instruction_count(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }
}

impl fmt::Debug for CompiledSeccomp {
    // libc::sock_filter has no Debug without libc's `extra_traits`; show lengths instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lengths: Vec<usize> = self.programs.iter().map(Vec::len).collect();
        f.debug_struct("CompiledSeccomp")
            .field("name", &self.name)
            .field("program_lengths", &lengths)
            .field("notify", &self.notify)
            .field("denied_summary", &self.denied_summary)
            .finish()
    }
}

/// The name of syscall `nr` on the host architecture (x86_64 table on x86_64), for reporting
/// security violations. `None` for unknown numbers (including x32 and negative ones).
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    let table = match &HOST {
        Some(host) => host.table,
        None => return None,
    };
    table.iter().find(|(_, n)| *n == nr).map(|(name, _)| *name)
}

/// The number of syscall `name` on the host architecture, if it exists there.
pub fn syscall_number(name: &str) -> Option<i64> {
    let table = HOST.as_ref()?.table;
    lookup(table, name)
}

fn lookup(table: &[(&str, i64)], name: &str) -> Option<i64> {
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, nr)| *nr)
}

// ---------------------------------------------------------------------------------------------
// The TOML model.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: String,
    #[serde(default)]
    description: String,
    default_action: toml::Spanned<RawAction>,
    default_errno: Option<toml::Spanned<RawValue>>,
    kill: Option<RawKillMode>,
    #[serde(default, rename = "rule")]
    rules: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawAction {
    Allow,
    Errno,
    Kill,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawKillMode {
    Notify,
    Process,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawNetwork {
    On,
    Off,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    action: RawAction,
    errno: Option<toml::Spanned<RawValue>>,
    network: Option<RawNetwork>,
    syscalls: Vec<toml::Spanned<String>>,
    #[serde(default)]
    when: Vec<toml::Spanned<RawCond>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCond {
    arg: u8,
    bits: u8,
    op: RawOp,
    value: Option<RawValue>,
    values: Option<Vec<RawValue>>,
    mask: Option<RawValue>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum RawOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
    In,
    NotIn,
    AnyBits,
}

impl RawOp {
    fn as_str(self) -> &'static str {
        match self {
            RawOp::Eq => "==",
            RawOp::Ne => "!=",
            RawOp::Lt => "<",
            RawOp::Le => "<=",
            RawOp::Gt => ">",
            RawOp::Ge => ">=",
            RawOp::MaskedEq => "masked_eq",
            RawOp::In => "in",
            RawOp::NotIn => "not in",
            RawOp::AnyBits => "has any of",
        }
    }
}

/// An integer, or a string naming constants/numbers joined with `|`.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
enum RawValue {
    Int(i64),
    Text(String),
}

impl fmt::Display for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Int(i) if *i > 255 => write!(f, "{i:#x}"),
            RawValue::Int(i) => write!(f, "{i}"),
            RawValue::Text(t) => f.write_str(t),
        }
    }
}

/// Constants a policy may name in values (stable kernel ABI values for the host).
// `libc::Ioctl` is u64 with glibc but c_int with musl: keep the casts portable.
#[allow(clippy::unnecessary_cast)]
const CONSTANTS: &[(&str, u64)] = &[
    ("AF_UNIX", libc::AF_UNIX as u64),
    ("AF_LOCAL", libc::AF_UNIX as u64),
    ("AF_INET", libc::AF_INET as u64),
    ("AF_INET6", libc::AF_INET6 as u64),
    ("AF_NETLINK", libc::AF_NETLINK as u64),
    ("AF_PACKET", libc::AF_PACKET as u64),
    ("AF_KEY", libc::AF_KEY as u64),
    ("AF_CAN", libc::AF_CAN as u64),
    ("AF_TIPC", libc::AF_TIPC as u64),
    ("AF_BLUETOOTH", libc::AF_BLUETOOTH as u64),
    ("AF_ALG", libc::AF_ALG as u64),
    ("AF_VSOCK", libc::AF_VSOCK as u64),
    ("AF_XDP", libc::AF_XDP as u64),
    ("NETLINK_ROUTE", libc::NETLINK_ROUTE as u64),
    ("NETLINK_AUDIT", libc::NETLINK_AUDIT as u64),
    (
        "NETLINK_KOBJECT_UEVENT",
        libc::NETLINK_KOBJECT_UEVENT as u64,
    ),
    ("SOCK_STREAM", libc::SOCK_STREAM as u64),
    ("SOCK_DGRAM", libc::SOCK_DGRAM as u64),
    ("SOCK_RAW", libc::SOCK_RAW as u64),
    ("CLONE_NEWNS", libc::CLONE_NEWNS as u64),
    ("CLONE_NEWCGROUP", libc::CLONE_NEWCGROUP as u64),
    ("CLONE_NEWUTS", libc::CLONE_NEWUTS as u64),
    ("CLONE_NEWIPC", libc::CLONE_NEWIPC as u64),
    ("CLONE_NEWUSER", libc::CLONE_NEWUSER as u64),
    ("CLONE_NEWPID", libc::CLONE_NEWPID as u64),
    ("CLONE_NEWNET", libc::CLONE_NEWNET as u64),
    ("CLONE_NEWTIME", libc::CLONE_NEWTIME as u64),
    ("CLONE_THREAD", libc::CLONE_THREAD as u64),
    ("CLONE_VM", libc::CLONE_VM as u64),
    ("TIOCSTI", libc::TIOCSTI as u64),
    ("TIOCLINUX", libc::TIOCLINUX as u64),
    ("TIOCSETD", libc::TIOCSETD as u64),
    ("TIOCCONS", libc::TIOCCONS as u64),
    // personality(2): PER_LINUX and PER_LINUX32 are not exported by libc.
    ("PER_LINUX", 0x0000),
    ("PER_LINUX32", 0x0008),
    ("UNAME26", libc::UNAME26 as u64),
    ("ADDR_NO_RANDOMIZE", libc::ADDR_NO_RANDOMIZE as u64),
    ("READ_IMPLIES_EXEC", libc::READ_IMPLIES_EXEC as u64),
    ("S_IFMT", libc::S_IFMT as u64),
    ("S_IFCHR", libc::S_IFCHR as u64),
    ("S_IFBLK", libc::S_IFBLK as u64),
    ("S_IFIFO", libc::S_IFIFO as u64),
    ("S_IFSOCK", libc::S_IFSOCK as u64),
    ("S_IFREG", libc::S_IFREG as u64),
    ("PROT_EXEC", libc::PROT_EXEC as u64),
    ("PROT_WRITE", libc::PROT_WRITE as u64),
];

/// Errno names a policy may use (numbers 1..=4095 are accepted too).
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EINVAL", libc::EINVAL),
    ("ENOTTY", libc::ENOTTY),
    ("EROFS", libc::EROFS),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ENOTSUP", libc::ENOTSUP),
    ("EPROTONOSUPPORT", libc::EPROTONOSUPPORT),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("ENETUNREACH", libc::ENETUNREACH),
];

fn errno_name(errno: u32) -> Option<&'static str> {
    ERRNOS
        .iter()
        .find(|(_, e)| i64::from(*e) == i64::from(errno))
        .map(|(n, _)| *n)
}

/// Resolves a value: an integer, or `|`-joined constant names and numbers.
fn resolve_value(value: &RawValue) -> Result<u64, String> {
    match value {
        RawValue::Int(i) => {
            u64::try_from(*i).map_err(|_| format!("negative value {i} (write it as hex)"))
        }
        RawValue::Text(text) => {
            let mut acc = 0u64;
            for part in text.split('|') {
                let part = part.trim();
                if part.is_empty() {
                    return Err(format!("empty part in value \"{text}\""));
                }
                acc |= resolve_atom(part)?;
            }
            Ok(acc)
        }
    }
}

fn resolve_atom(part: &str) -> Result<u64, String> {
    if let Some((_, v)) = CONSTANTS.iter().find(|(n, _)| *n == part) {
        return Ok(*v);
    }
    let lower = part.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else {
        (lower.as_str(), 10)
    };
    let digits = digits.replace('_', "");
    u64::from_str_radix(&digits, radix).map_err(|_| format!("unknown constant \"{part}\""))
}

fn resolve_errno(value: &RawValue) -> Result<u32, String> {
    let errno = match value {
        RawValue::Text(t) => match ERRNOS.iter().find(|(n, _)| *n == t.trim()) {
            Some((_, e)) => i64::from(*e),
            None => t
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("unknown errno \"{t}\""))?,
        },
        RawValue::Int(i) => *i,
    };
    match u32::try_from(errno) {
        Ok(e) if (1..=4095).contains(&e) => Ok(e),
        _ => Err(format!("errno {errno} out of range 1..=4095")),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let before = bytes.get(..offset.min(bytes.len())).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before
        .iter()
        .rev()
        .take_while(|b| **b != b'\n')
        .filter(|b| (**b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, col)
}

/// Converts one `[[rule.when]]` into alternatives (a disjunction of conjunctions) plus a
/// human description.
fn build_condition(cond: &RawCond) -> Result<(bpf::Alternatives, String), String> {
    if cond.arg > 5 {
        return Err(format!("argument index {} out of range 0..=5", cond.arg));
    }
    let (wide, limit) = match cond.bits {
        32 => (false, u64::from(u32::MAX)),
        64 => (true, u64::MAX),
        other => return Err(format!("bits = {other}: must be 32 or 64")),
    };
    let fits = |v: &RawValue| -> Result<u64, String> {
        let n = resolve_value(v)?;
        if n > limit {
            Err(format!(
                "value {v} ({n:#x}) does not fit in {} bits",
                cond.bits
            ))
        } else {
            Ok(n)
        }
    };
    let need_value = || -> Result<u64, String> {
        match &cond.value {
            Some(v) => fits(v),
            None => Err(format!("op \"{}\" needs `value`", cond.op.as_str())),
        }
    };
    let forbid = |field: &str, present: bool| -> Result<(), String> {
        if present {
            Err(format!(
                "op \"{}\" does not take `{field}`",
                cond.op.as_str()
            ))
        } else {
            Ok(())
        }
    };
    let mk = |op: CmpOp, value: u64| -> Result<bpf::Cond, String> {
        Ok(bpf::Cond {
            arg: cond.arg,
            wide,
            op,
            value,
        })
    };
    let width = if cond.bits == 32 {
        " (low 32 bits)"
    } else {
        ""
    };
    let show = |vs: &[RawValue]| {
        vs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let arg = cond.arg;
    let op = cond.op.as_str();

    let scalar = |cmp: CmpOp| -> Result<(bpf::Alternatives, String), String> {
        forbid("values", cond.values.is_some())?;
        forbid("mask", cond.mask.is_some())?;
        let v = need_value()?;
        let text = format!("arg{arg}{width} {op} {}", cond.value_text());
        Ok((vec![vec![mk(cmp, v)?]], text))
    };

    match cond.op {
        RawOp::Eq => scalar(CmpOp::Eq),
        RawOp::Ne => scalar(CmpOp::Ne),
        RawOp::Lt => scalar(CmpOp::Lt),
        RawOp::Le => scalar(CmpOp::Le),
        RawOp::Gt => scalar(CmpOp::Gt),
        RawOp::Ge => scalar(CmpOp::Ge),
        RawOp::MaskedEq => {
            forbid("values", cond.values.is_some())?;
            let mask = match &cond.mask {
                Some(m) => fits(m)?,
                None => return Err("op \"masked_eq\" needs `mask`".into()),
            };
            let v = need_value()?;
            if v & !mask != 0 {
                return Err(format!("value {v:#x} has bits outside mask {mask:#x}"));
            }
            let text = format!(
                "arg{arg}{width} & {} == {}",
                cond.mask
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                cond.value_text()
            );
            Ok((vec![vec![mk(CmpOp::MaskedEq(mask), v)?]], text))
        }
        RawOp::In => {
            forbid("value", cond.value.is_some())?;
            let values = cond.need_values()?;
            let mask = cond.mask.as_ref().map(&fits).transpose()?;
            let mut alts = Vec::with_capacity(values.len());
            for raw in values {
                let v = fits(raw)?;
                let c = match mask {
                    Some(m) if v & !m != 0 => {
                        return Err(format!("value {raw} has bits outside mask {m:#x}"));
                    }
                    Some(m) => mk(CmpOp::MaskedEq(m), v)?,
                    None => mk(CmpOp::Eq, v)?,
                };
                alts.push(vec![c]);
            }
            let masked = match &cond.mask {
                Some(m) => format!(" & {m}"),
                None => String::new(),
            };
            let text = format!("arg{arg}{width}{masked} in [{}]", show(values));
            Ok((alts, text))
        }
        RawOp::NotIn => {
            forbid("value", cond.value.is_some())?;
            forbid("mask", cond.mask.is_some())?;
            let values = cond.need_values()?;
            let mut conj = Vec::with_capacity(values.len());
            for raw in values {
                conj.push(mk(CmpOp::Ne, fits(raw)?)?);
            }
            let text = format!("arg{arg}{width} not in [{}]", show(values));
            Ok((vec![conj], text))
        }
        RawOp::AnyBits => {
            forbid("values", cond.values.is_some())?;
            forbid("mask", cond.mask.is_some())?;
            let v = need_value()?;
            if v == 0 {
                return Err("op \"any_bits\" needs a non-zero value".into());
            }
            let mut alts = Vec::new();
            for bit in 0..64 {
                let b = 1u64 << bit;
                if v & b != 0 {
                    alts.push(vec![mk(CmpOp::MaskedEq(b), b)?]);
                }
            }
            let text = format!("arg{arg}{width} has any of {}", cond.value_text());
            Ok((alts, text))
        }
    }
}

impl RawCond {
    fn value_text(&self) -> String {
        self.value
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    fn need_values(&self) -> Result<&[RawValue], String> {
        match &self.values {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!(
                "op \"{}\" needs a non-empty `values` list",
                self.op.as_str()
            )),
        }
    }
}

impl SeccompPolicy {
    /// A built-in policy: `default` (deny-list, the secure default), `strict` (allow-list for
    /// judge workloads, violations reported through the supervisor) or `none` (no filter at
    /// all: compiles to zero programs; for debugging and measurements only).
    pub fn named(name: &str) -> Result<Self, SeccompError> {
        match name {
            "default" => DEFAULT_BUILTIN.policy(DEFAULT_POLICY, "policies/seccomp/default.toml"),
            "strict" => STRICT_BUILTIN.policy(STRICT_POLICY, "policies/seccomp/strict.toml"),
            "none" => Ok(Self {
                name: "none".into(),
                description: "no seccomp filter".into(),
                disabled: true,
                default_action: Action::Allow,
                kill_mode: KillMode::Process,
                rules: Vec::new(),
                builtin: None,
            }),
            other => Err(SeccompError::UnknownPolicy { name: other.into() }),
        }
    }

    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Self, SeccompError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeccompError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates a policy; `origin` (a path or a name) appears in every error.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, SeccompError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            SeccompError::Parse {
                origin: origin.into(),
                line,
                col,
                message: e.message().trim().to_string(),
            }
        })?;
        let at = |span: Range<usize>| line_col(text, span.start);
        let parse_err = |span: Range<usize>, message: String| {
            let (line, col) = at(span);
            SeccompError::Parse {
                origin: origin.into(),
                line,
                col,
                message,
            }
        };

        if raw.name.trim().is_empty() {
            return Err(parse_err(0..0, "`name` must not be empty".into()));
        }
        let default_action = match (*raw.default_action.get_ref(), &raw.default_errno) {
            (RawAction::Allow, None) => Action::Allow,
            (RawAction::Kill, None) => Action::Kill,
            (RawAction::Errno, None) => Action::Errno(libc::EPERM as u32),
            (RawAction::Errno, Some(e)) => {
                Action::Errno(resolve_errno(e.get_ref()).map_err(|m| parse_err(e.span(), m))?)
            }
            (_, Some(e)) => {
                return Err(parse_err(
                    e.span(),
                    "`default_errno` needs default_action = \"errno\"".into(),
                ));
            }
        };
        let kill_mode = match raw.kill {
            None | Some(RawKillMode::Notify) => KillMode::Notify,
            Some(RawKillMode::Process) => KillMode::Process,
        };

        let mut rules = Vec::with_capacity(raw.rules.len());
        for (index, spanned) in raw.rules.iter().enumerate() {
            let rule_span = spanned.span();
            let r = spanned.get_ref();
            let label = match &r.name {
                Some(n) => format!("#{} \"{n}\"", index + 1),
                None => format!("#{}", index + 1),
            };
            let rule_err = |span: Range<usize>, message: String| {
                let (line, col) = at(span);
                SeccompError::InvalidRule {
                    origin: origin.into(),
                    rule: label.clone(),
                    line,
                    col,
                    message,
                }
            };
            let action = match (r.action, &r.errno) {
                (RawAction::Allow, None) => Action::Allow,
                (RawAction::Kill, None) => Action::Kill,
                (RawAction::Errno, None) => Action::Errno(libc::EPERM as u32),
                (RawAction::Errno, Some(e)) => {
                    Action::Errno(resolve_errno(e.get_ref()).map_err(|m| rule_err(e.span(), m))?)
                }
                (_, Some(e)) => {
                    return Err(rule_err(
                        e.span(),
                        "`errno` needs action = \"errno\"".into(),
                    ));
                }
            };
            if r.syscalls.is_empty() {
                return Err(rule_err(rule_span, "`syscalls` is empty".into()));
            }
            let mut syscalls = Vec::with_capacity(r.syscalls.len());
            for name in &r.syscalls {
                let n = name.get_ref().as_str();
                let here = match &HOST {
                    Some(host) => lookup(host.table, n).map(Some).or_else(|| {
                        // Known only on the other architecture: skip it here.
                        lookup(host.other, n).map(|_| None)
                    }),
                    None => FALLBACK_TABLES
                        .iter()
                        .find_map(|t| lookup(t, n))
                        .map(|_| None),
                };
                match here {
                    Some(Some(nr)) => syscalls.push((n.to_string(), nr)),
                    Some(None) => {}
                    None => {
                        let (line, col) = at(name.span());
                        return Err(SeccompError::UnknownSyscall {
                            origin: origin.into(),
                            rule: label.clone(),
                            syscall: n.into(),
                            line,
                            col,
                        });
                    }
                }
            }
            if action == Action::Allow && !r.when.is_empty() {
                return Err(rule_err(
                    r.when.first().map_or(rule_span.clone(), |c| c.span()),
                    "conditions on an \"allow\" rule have no effect (a named syscall is \
                     allowed unless a deny rule matches): write the exception as a deny rule"
                        .into(),
                ));
            }
            let mut dnf: bpf::Alternatives = vec![Vec::new()];
            let mut texts = Vec::with_capacity(r.when.len());
            for cond in &r.when {
                let (options, text) =
                    build_condition(cond.get_ref()).map_err(|m| rule_err(cond.span(), m))?;
                let mut next = Vec::with_capacity(dnf.len() * options.len());
                for base in &dnf {
                    for option in &options {
                        let mut conj = base.clone();
                        conj.extend(option.iter().cloned());
                        next.push(conj);
                    }
                }
                if next.len() > MAX_ALTERNATIVES {
                    return Err(rule_err(
                        cond.span(),
                        format!(
                            "the conditions expand to {} alternatives (at most {MAX_ALTERNATIVES})",
                            next.len()
                        ),
                    ));
                }
                dnf = next;
                texts.push(text);
            }
            let alternatives = if r.when.is_empty() {
                Vec::new()
            } else if dnf.iter().any(Vec::is_empty) {
                return Err(rule_err(
                    rule_span.clone(),
                    "a condition matches nothing".into(),
                ));
            } else {
                dnf
            };
            rules.push(Rule {
                label,
                action,
                network: r.network.map(|n| matches!(n, RawNetwork::On)),
                syscalls,
                alternatives,
                condition_text: texts.join(" and "),
            });
        }

        let policy = Self {
            name: raw.name,
            description: raw.description,
            disabled: false,
            default_action,
            kill_mode,
            rules,
            builtin: None,
        };
        policy.check_required(origin)?;
        Ok(policy)
    }

    /// Rejects a policy that could deny one of [`REQUIRED_SYSCALLS`] under either network
    /// setting.
    fn check_required(&self, origin: &str) -> Result<(), SeccompError> {
        let Some(host) = &HOST else { return Ok(()) };
        for &syscall in REQUIRED_SYSCALLS {
            let Some(nr) = lookup(host.table, syscall) else {
                continue;
            };
            let err = |reason: String| SeccompError::RequiredSyscall {
                origin: origin.into(),
                syscall,
                reason,
            };
            for rule in &self.rules {
                if rule.action != Action::Allow && rule.syscalls.iter().any(|(_, n)| *n == nr) {
                    return Err(err(format!("rule {} denies it", rule.label)));
                }
            }
            if self.default_action != Action::Allow {
                for network in [false, true] {
                    let named = self.rules.iter().any(|r| {
                        r.network.is_none_or(|n| n == network)
                            && r.syscalls.iter().any(|(_, n)| *n == nr)
                    });
                    if !named {
                        let when = if network { "on" } else { "off" };
                        return Err(err(format!(
                            "no rule allows it (network {when}) and the default action is not \
                             \"allow\""
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The policy's name (`default`, `strict`, `none`, or the `name` of a loaded file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same policy with `kill` carried out as `SECCOMP_RET_KILL_PROCESS` (SIGSYS, no
    /// report) instead of a supervisor notification: for callers that do not service a
    /// listener. Without a listener a USER_NOTIF filter would make violations fail with ENOSYS
    /// instead of killing the process.
    pub fn with_kill_process(mut self) -> Self {
        self.kill_mode = KillMode::Process;
        self
    }

    /// The policy's free-text description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Compiles the policy for the host architecture (x86_64; aarch64 also works) for a sandbox
    /// with (`network = true`) or without network: rules with `network = "on"`/`"off"` apply
    /// only then. The result is one program: see the module docs for the layout, the flags
    /// and the semantics. Takes well under a millisecond; do it once per Sandbox.
    pub fn compile(&self, network: bool) -> Result<CompiledSeccomp, SeccompError> {
        let Some(BuiltinRef(cache)) = self.builtin else {
            return self.compile_with(network, self.kill_mode);
        };
        let key = (network, self.kill_mode);
        let lock = || {
            cache
                .compiled
                .get_or_init(|| Mutex::new(Vec::new()))
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        };
        if let Some((.., c)) = lock().iter().find(|(n, k, _)| (*n, *k) == key) {
            return Ok(c.clone());
        }
        let c = self.compile_with(network, self.kill_mode)?;
        let mut cached = lock();
        if !cached.iter().any(|(n, k, _)| (*n, *k) == key) {
            cached.push((network, self.kill_mode, c.clone()));
        }
        Ok(c)
    }

    fn compile_with(
        &self,
        network: bool,
        kill_mode: KillMode,
    ) -> Result<CompiledSeccomp, SeccompError> {
        if self.disabled {
            return Ok(CompiledSeccomp {
                name: self.name.clone(),
                programs: Vec::new(),
                notify: false,
                denied_summary: Vec::new(),
            });
        }
        let Some(host) = &HOST else {
            return Err(SeccompError::UnsupportedArch {
                policy: self.name.clone(),
            });
        };
        let compile_err = |message: String| SeccompError::Compile {
            policy: self.name.clone(),
            message,
        };
        let plan = self.plan(network, kill_mode);
        let kill_ret = match kill_mode {
            KillMode::Notify => libc::SECCOMP_RET_USER_NOTIF,
            KillMode::Process => libc::SECCOMP_RET_KILL_PROCESS,
        };
        let ret_of = |kind: SegmentKind| match kind {
            SegmentKind::Kill => kill_ret,
            SegmentKind::Errno(e) => libc::SECCOMP_RET_ERRNO | (e & libc::SECCOMP_RET_DATA),
        };
        let default_ret = match self.default_action {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Errno(e) => ret_of(SegmentKind::Errno(e)),
            Action::Kill => kill_ret,
        };

        // Every number some rule names gets its own leaf: the segments' checks in order
        // (first decision wins), then the allow-list's answer.
        let mut numbers: BTreeSet<i64> = plan.named.clone();
        for (_, map) in &plan.segments {
            numbers.extend(map.keys());
        }
        let mut leaves = BTreeMap::new();
        for nr in numbers {
            let key = u32::try_from(nr)
                .map_err(|_| compile_err(format!("syscall number {nr} out of range")))?;
            let mut steps = Vec::new();
            let mut decided = None;
            for (kind, map) in &plan.segments {
                match map.get(&nr) {
                    None => {}
                    Some(None) => {
                        decided = Some(ret_of(*kind));
                        break;
                    }
                    Some(Some(alternatives)) => steps.push((alternatives.clone(), ret_of(*kind))),
                }
            }
            let fallback = decided.unwrap_or(if plan.named.contains(&nr) {
                libc::SECCOMP_RET_ALLOW
            } else {
                default_ret
            });
            let leaf = if steps.is_empty() {
                bpf::Leaf::Ret(fallback)
            } else {
                bpf::Leaf::Checks { steps, fallback }
            };
            leaves.insert(key, leaf);
        }
        let arch = bpf::Arch {
            audit: host.audit,
            x32_bit: host.x32.then_some(X32_SYSCALL_BIT),
        };
        let program = bpf::program(&arch, &leaves, default_ret).map_err(compile_err)?;
        if program.len() > BPF_MAX_INSNS {
            return Err(compile_err(format!(
                "{} BPF instructions, the kernel accepts at most {BPF_MAX_INSNS}",
                program.len()
            )));
        }
        let notify = program
            .iter()
            .any(|f| f.code == bpf::RET_K && f.k == libc::SECCOMP_RET_USER_NOTIF);
        let mut summary = plan.summary;
        if host.x32 {
            summary.push("x32 syscalls and foreign architectures -> kill (SIGSYS)".into());
        }
        Ok(CompiledSeccomp {
            name: self.name.clone(),
            programs: vec![program],
            notify,
            denied_summary: summary,
        })
    }

    /// Groups the rules that apply under `network` by action, in evaluation order: the kill
    /// rules, then one segment per errno in order of first use. Shared by the compiler and
    /// the equivalence tests' reference compiler.
    fn plan(&self, network: bool, kill_mode: KillMode) -> Plan {
        fn add(map: &mut RuleMap, nr: i64, alternatives: &[Vec<bpf::Cond>]) {
            use std::collections::btree_map::Entry;
            match map.entry(nr) {
                Entry::Vacant(slot) => {
                    slot.insert((!alternatives.is_empty()).then(|| alternatives.to_vec()));
                }
                Entry::Occupied(mut slot) => match slot.get_mut() {
                    // Already unconditional: stays so.
                    None => {}
                    Some(_) if alternatives.is_empty() => {
                        slot.insert(None);
                    }
                    Some(existing) => existing.extend(alternatives.iter().cloned()),
                },
            }
        }

        let mut segments: Vec<(SegmentKind, RuleMap)> = vec![(SegmentKind::Kill, RuleMap::new())];
        let mut named = BTreeSet::new();
        let mut summary = Vec::new();
        for rule in self
            .rules
            .iter()
            .filter(|r| r.network.is_none_or(|n| n == network))
        {
            named.extend(rule.syscalls.iter().map(|(_, nr)| *nr));
            let kind = match rule.action {
                Action::Allow => continue,
                Action::Kill => SegmentKind::Kill,
                Action::Errno(e) => SegmentKind::Errno(e),
            };
            let index = match segments.iter().position(|(k, _)| *k == kind) {
                Some(i) => i,
                None => {
                    segments.push((kind, RuleMap::new()));
                    segments.len() - 1
                }
            };
            if let Some((_, map)) = segments.get_mut(index) {
                for (_, nr) in &rule.syscalls {
                    add(map, *nr, &rule.alternatives);
                }
            }
            if !rule.syscalls.is_empty() {
                summary.push(self.summary_line(rule, kill_mode));
            }
        }
        segments.retain(|(_, map)| !map.is_empty());
        if self.default_action != Action::Allow {
            let what = match self.default_action {
                Action::Errno(e) => errno_text(e),
                _ => kill_text(kill_mode).to_string(),
            };
            summary.push(format!(
                "every syscall the policy does not name ({} named) -> {what}",
                named.len()
            ));
        } else {
            named.clear();
        }
        Plan {
            segments,
            named,
            summary,
        }
    }

    fn summary_line(&self, rule: &Rule, kill_mode: KillMode) -> String {
        let names: Vec<&str> = rule.syscalls.iter().map(|(n, _)| n.as_str()).collect();
        let action = match rule.action {
            Action::Errno(e) => errno_text(e),
            _ => kill_text(kill_mode).to_string(),
        };
        if rule.condition_text.is_empty() {
            format!("{} -> {action}", names.join(", "))
        } else {
            format!(
                "{} when {} -> {action}",
                names.join(", "),
                rule.condition_text
            )
        }
    }
}

fn errno_text(errno: u32) -> String {
    match errno_name(errno) {
        Some(n) => n.to_string(),
        None => format!("errno {errno}"),
    }
}

fn kill_text(mode: KillMode) -> &'static str {
    match mode {
        KillMode::Notify => "kill (reported)",
        KillMode::Process => "kill (SIGSYS)",
    }
}

/// Per syscall number: `None` = unconditional, `Some(alternatives)` otherwise.
type RuleMap = BTreeMap<i64, Option<bpf::Alternatives>>;

/// Which action a segment of rules has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SegmentKind {
    Kill,
    Errno(u32),
}

/// The rules that apply to one network setting, grouped for compilation.
struct Plan {
    /// In evaluation order (first decision wins); none is empty.
    segments: Vec<(SegmentKind, RuleMap)>,
    /// With an allow-list (`default_action` not `allow`): every number a rule names (allowed
    /// unless a segment decides otherwise). Empty when the default is `allow`.
    named: BTreeSet<i64>,
    /// Human summary lines for the report.
    summary: Vec<String>,
}

#[cfg(test)]
#[path = "seccomp/legacy.rs"]
mod legacy;

#[cfg(test)]
#[path = "seccomp/tests.rs"]
mod tests;
