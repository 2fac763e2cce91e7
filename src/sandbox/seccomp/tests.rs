//! Tests of the seccomp layer: the policy model, compilation (checked with a small cBPF
//! interpreter that mirrors the kernel's multi-filter semantics) and behaviour under the real
//! kernel in forked children (only raw syscalls after fork: the test harness is threaded).

// `libc::Ioctl` is u64 with glibc but c_int with musl: the casts keep the tests portable.
#![allow(clippy::unnecessary_cast)]

use super::*;

use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::os::raw::{c_char, c_int};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A cBPF interpreter for seccomp programs (the instructions seccompiler and the prelude use).

/// Runs one program on a synthetic `seccomp_data`.
fn eval(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u32; 16];
    data[0] = nr;
    data[1] = arch;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a as u32;
        data[5 + 2 * i] = (*a >> 32) as u32;
    }
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let f = prog[pc];
        pc += 1;
        let cond = |taken: bool| usize::from(if taken { f.jt } else { f.jf });
        match f.code {
            0x20 => acc = data[(f.k / 4) as usize],
            0x54 => acc &= f.k,
            0x05 => pc += f.k as usize,
            0x15 => pc += cond(acc == f.k),
            0x25 => pc += cond(acc > f.k),
            0x35 => pc += cond(acc >= f.k),
            0x45 => pc += cond(acc & f.k != 0),
            0x06 => return f.k,
            other => panic!("unexpected BPF opcode {other:#x} at {}", pc - 1),
        }
    }
}

/// The kernel's verdict over all installed programs: every filter runs (newest first) and the
/// most severe action wins (`ACTION_ONLY` compared as signed), the newest on a tie.
fn verdict(c: &CompiledSeccomp, arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let mut ret = libc::SECCOMP_RET_ALLOW;
    for p in c.programs.iter().rev() {
        let cur = eval(p, arch, nr as u32, args);
        if ((cur & 0xffff_0000) as i32) < ((ret & 0xffff_0000) as i32) {
            ret = cur;
        }
    }
    ret
}

const X86: u32 = AUDIT_ARCH_X86_64;
const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const NOTIF: u32 = libc::SECCOMP_RET_USER_NOTIF;
const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

fn errno_ret(e: c_int) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

fn nr(name: &str) -> i64 {
    syscall_number(name).unwrap_or_else(|| panic!("no syscall {name}"))
}

fn v(c: &CompiledSeccomp, name: &str, args: [u64; 6]) -> u32 {
    verdict(c, X86, nr(name), args)
}

fn compiled(name: &str, network: bool) -> CompiledSeccomp {
    SeccompPolicy::named(name)
        .unwrap()
        .compile(network)
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The policy model.

#[test]
fn builtins_parse() {
    let d = SeccompPolicy::named("default").unwrap();
    assert_eq!(d.name(), "default");
    let s = SeccompPolicy::named("strict").unwrap();
    assert_eq!(s.name(), "strict");
    assert!(!s.description().is_empty());
    let n = SeccompPolicy::named("none").unwrap();
    assert_eq!(n.name(), "none");
    assert!(matches!(
        SeccompPolicy::named("nope"),
        Err(SeccompError::UnknownPolicy { .. })
    ));
    for name in BUILTIN_POLICIES {
        assert!(SeccompPolicy::named(name).is_ok(), "{name}");
    }
}

#[test]
fn load_reads_files_and_reports_io_errors() {
    let dir = scratch_dir("load");
    let path = dir.join("p.toml");
    std::fs::write(
        &path,
        "name = \"mine\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscalls = [\"acct\"]\n",
    )
    .unwrap();
    let p = SeccompPolicy::load(&path).unwrap();
    assert_eq!(p.name(), "mine");
    let err = SeccompPolicy::load(&dir.join("missing.toml")).unwrap_err();
    assert!(matches!(err, SeccompError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.toml"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn unknown_syscall_names_file_rule_and_position() {
    let text = "name = \"x\"\ndefault_action = \"allow\"\n\n[[rule]]\nname = \"ok\"\naction = \"errno\"\nsyscalls = [\"mount\"]\n\n[[rule]]\nname = \"typo\"\naction = \"errno\"\nsyscalls = [\"acct\", \"mout\"]\n";
    let err = SeccompPolicy::from_toml_str(text, "policies/seccomp/x.toml").unwrap_err();
    match &err {
        SeccompError::UnknownSyscall {
            origin,
            rule,
            syscall,
            line,
            col,
        } => {
            assert_eq!(origin, "policies/seccomp/x.toml");
            assert_eq!(rule, "#2 \"typo\"");
            assert_eq!(syscall, "mout");
            assert_eq!((*line, *col), (12, 21));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "policies/seccomp/x.toml:12:21: rule #2 \"typo\": unknown syscall \"mout\""
    );
}

#[test]
fn unknown_keys_are_rejected_with_position() {
    let text = "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscals = [\"mount\"]\n";
    let err = SeccompPolicy::from_toml_str(text, "x.toml").unwrap_err();
    match &err {
        SeccompError::Parse {
            line, col, message, ..
        } => {
            assert_eq!((*line, *col), (5, 1), "{message}");
            assert!(message.contains("syscals"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Unknown top-level key, unknown condition key, bad enum value, wrong type.
    for bad in [
        "name = \"x\"\ndefault_action = \"allow\"\nfoo = 1\n",
        "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"eq\"\nvalue = 1\nvalu = 2\n",
        "name = \"x\"\ndefault_action = \"deny\"\n",
        "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscalls = \"mount\"\n",
        "default_action = \"allow\"\n",
        "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = -1\nbits = 32\nop = \"eq\"\nvalue = 1\n",
        "this is not toml",
    ] {
        let err = SeccompPolicy::from_toml_str(bad, "bad.toml").unwrap_err();
        assert!(matches!(err, SeccompError::Parse { .. }), "{bad}: {err:?}");
        assert!(err.to_string().starts_with("bad.toml:"), "{err}");
    }
}

#[test]
fn invalid_rules_are_rejected() {
    let base = "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\nname = \"r\"\n";
    let cases = [
        (
            "action = \"errno\"\nerrno = \"EWHAT\"\nsyscalls = [\"acct\"]\n",
            "unknown errno",
        ),
        (
            "action = \"errno\"\nerrno = 70000\nsyscalls = [\"acct\"]\n",
            "out of range",
        ),
        (
            "action = \"kill\"\nerrno = \"EPERM\"\nsyscalls = [\"acct\"]\n",
            "needs action",
        ),
        ("action = \"errno\"\nsyscalls = []\n", "empty"),
        (
            "action = \"allow\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"eq\"\nvalue = 1\n",
            "no effect",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 6\nbits = 32\nop = \"eq\"\nvalue = 1\n",
            "argument index",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 16\nop = \"eq\"\nvalue = 1\n",
            "32 or 64",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"eq\"\nvalue = \"0x1_0000_5412\"\n",
            "does not fit",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"eq\"\nvalue = \"TIOCNOPE\"\n",
            "unknown constant",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"eq\"\n",
            "needs `value`",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"in\"\nvalues = []\n",
            "non-empty",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"not_in\"\nvalues = [1]\nmask = 3\n",
            "does not take `mask`",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 32\nop = \"masked_eq\"\nmask = 3\nvalue = 4\n",
            "outside mask",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 64\nop = \"any_bits\"\nvalue = 0\n",
            "non-zero",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 1\nbits = 64\nop = \"eq\"\nvalue = -5\n",
            "negative",
        ),
        (
            "action = \"errno\"\nsyscalls = [\"ioctl\"]\n[[rule.when]]\narg = 0\nbits = 64\nop = \"any_bits\"\nvalue = \"0xff\"\n[[rule.when]]\narg = 1\nbits = 64\nop = \"any_bits\"\nvalue = \"0xff\"\n[[rule.when]]\narg = 2\nbits = 64\nop = \"any_bits\"\nvalue = \"0xff\"\n",
            "alternatives",
        ),
    ];
    for (rule, needle) in cases {
        let text = format!("{base}{rule}");
        let err = SeccompPolicy::from_toml_str(&text, "r.toml").unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, SeccompError::InvalidRule { ref rule, .. } if rule == "#1 \"r\""),
            "{rule}: {err:?}"
        );
        assert!(msg.contains(needle), "{rule}: {msg}");
        assert!(msg.starts_with("r.toml:"), "{msg}");
    }
    // Top-level consistency.
    let err = SeccompPolicy::from_toml_str(
        "name = \"x\"\ndefault_action = \"allow\"\ndefault_errno = \"EPERM\"\n",
        "t.toml",
    )
    .unwrap_err();
    assert!(
        matches!(err, SeccompError::Parse { line: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn required_syscalls_cannot_be_denied() {
    let deny_execve = "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\nname = \"no-exec\"\naction = \"errno\"\nsyscalls = [\"execve\"]\n";
    let err = SeccompPolicy::from_toml_str(deny_execve, "x.toml").unwrap_err();
    assert!(
        matches!(
            err,
            SeccompError::RequiredSyscall {
                syscall: "execve",
                ..
            }
        ),
        "{err:?}"
    );
    let missing = "name = \"x\"\ndefault_action = \"kill\"\n[[rule]]\naction = \"allow\"\nsyscalls = [\"close\", \"execve\", \"exit_group\", \"write\"]\n";
    let err = SeccompPolicy::from_toml_str(missing, "x.toml").unwrap_err();
    assert!(
        matches!(
            err,
            SeccompError::RequiredSyscall {
                syscall: "sendmsg",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("sendmsg"), "{err}");
}

#[test]
fn values_constants_and_numbers() {
    assert_eq!(resolve_value(&RawValue::Int(0x5412)), Ok(0x5412));
    assert_eq!(
        resolve_value(&RawValue::Text("TIOCSTI".into())),
        Ok(libc::TIOCSTI as u64)
    );
    assert_eq!(
        resolve_value(&RawValue::Text("CLONE_NEWNS | 0x1 |0o10| 0b100".into())),
        Ok(libc::CLONE_NEWNS as u64 | 0x1 | 0o10 | 0b100)
    );
    assert!(resolve_value(&RawValue::Text("NOPE".into())).is_err());
    assert!(resolve_value(&RawValue::Text("A||B".into())).is_err());
    assert_eq!(resolve_errno(&RawValue::Text("ENOSYS".into())), Ok(38));
    assert_eq!(resolve_errno(&RawValue::Int(13)), Ok(13));
    assert!(resolve_errno(&RawValue::Int(0)).is_err());
    assert_eq!(line_col("ab\ncdé\nx", 7), (2, 4));
    assert_eq!(line_col("ab\ncdé\nx", 8), (3, 1));
    assert_eq!(line_col("ab", 99), (1, 3));
}

#[test]
fn syscall_table_lookups() {
    assert_eq!(syscall_name(0), Some("read"));
    assert_eq!(syscall_name(41), Some("socket"));
    assert_eq!(syscall_name(101), Some("ptrace"));
    assert_eq!(syscall_name(435), Some("clone3"));
    assert_eq!(syscall_name(469), Some("file_setattr"));
    assert_eq!(syscall_name(-1), None);
    assert_eq!(syscall_name(0x4000_0027), None);
    assert_eq!(syscall_number("openat"), Some(libc::SYS_openat));
    assert_eq!(
        syscall_number("io_uring_setup"),
        Some(libc::SYS_io_uring_setup)
    );
    for table in [syscalls::X86_64, syscalls::AARCH64] {
        assert!(
            table.windows(2).all(|w| w[0].0 < w[1].0),
            "table not sorted"
        );
    }
    // Spot-check the table against libc's constants.
    for (name, n) in [
        ("mount", libc::SYS_mount),
        ("clone", libc::SYS_clone),
        ("ioctl", libc::SYS_ioctl),
        ("personality", libc::SYS_personality),
        ("pidfd_getfd", libc::SYS_pidfd_getfd),
        ("mount_setattr", libc::SYS_mount_setattr),
    ] {
        assert_eq!(syscall_number(name), Some(n), "{name}");
    }
}

#[test]
fn names_of_other_architectures_are_skipped() {
    // `renameat` exists on both; find a name that exists only in the aarch64 table.
    let only_other = syscalls::AARCH64
        .iter()
        .find(|(n, _)| lookup(syscalls::X86_64, n).is_none())
        .map(|(n, _)| *n);
    if let Some(name) = only_other {
        let text = format!(
            "name = \"x\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\nsyscalls = [\"acct\", \"{name}\"]\n"
        );
        let p = SeccompPolicy::from_toml_str(&text, "x.toml").unwrap();
        assert_eq!(p.rules[0].syscalls.len(), 1, "{name} should be skipped");
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation.

#[test]
fn arch_and_x32_checks_lead_the_single_program() {
    if HOST.is_none() {
        return;
    }
    let c = compiled("default", false);
    assert_eq!(c.programs.len(), 1);
    let p = &c.programs[0];
    let head: Vec<(u16, u8, u8, u32)> = p
        .iter()
        .take(4)
        .map(|f| (f.code, f.jt, f.jf, f.k))
        .collect();
    assert_eq!(
        head,
        vec![
            (0x20, 0, 0, 4),
            (0x15, 1, 0, AUDIT_ARCH_X86_64),
            (0x06, 0, 0, KILL),
            (0x20, 0, 0, 0),
        ]
    );
    assert_eq!(eval(p, X86, 39, [0; 6]), ALLOW); // getpid
    assert_eq!(eval(p, X86, 0x4000_0027, [0; 6]), KILL);
    assert_eq!(eval(p, X86, 0x4000_0000, [0; 6]), KILL);
    assert_eq!(eval(p, X86, 0xffff_fffe, [0; 6]), KILL);
    assert_eq!(eval(p, X86, 0x3fff_ffff, [0; 6]), ALLOW);
    // -1 (a tracer skipping the syscall) gets the policy's default; strict's is a violation.
    assert_eq!(eval(p, X86, u32::MAX, [0; 6]), ALLOW);
    assert_eq!(
        eval(
            &compiled("strict", false).programs[0],
            X86,
            u32::MAX,
            [0; 6]
        ),
        NOTIF
    );
    assert_eq!(eval(p, 0x4000_0003, 39, [0; 6]), KILL); // AUDIT_ARCH_I386
}

#[test]
fn default_compiles_and_denies() {
    for network in [false, true] {
        let c = compiled("default", network);
        assert_eq!(c.name, "default");
        assert!(!c.notify);
        assert_eq!(c.listener_index(), None);
        assert_eq!(c.programs.len(), 1);
        assert!(
            c.programs
                .iter()
                .all(|p| !p.is_empty() && p.len() <= BPF_MAX_INSNS)
        );
        assert!(!c.denied_summary.is_empty());
        let eperm = errno_ret(libc::EPERM);
        let enosys = errno_ret(libc::ENOSYS);
        for name in [
            "mount",
            "umount2",
            "move_mount",
            "open_tree",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "mount_setattr",
            "pivot_root",
            "chroot",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "pidfd_getfd",
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "keyctl",
            "add_key",
            "request_key",
            "unshare",
            "setns",
            "open_by_handle_at",
            "name_to_handle_at",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "settimeofday",
            "clock_settime",
            "clock_adjtime",
            "adjtimex",
            "quotactl",
            "quotactl_fd",
            "lookup_dcookie",
            "nfsservctl",
            "vhangup",
            "syslog",
            "iopl",
            "ioperm",
            "uselib",
            "ustat",
            "sysfs",
            "_sysctl",
            "fanotify_init",
            "kcmp",
            "open_tree_attr",
        ] {
            assert_eq!(v(&c, name, [0; 6]), eperm, "{name}");
        }
        for name in [
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "clone3",
        ] {
            assert_eq!(v(&c, name, [0; 6]), enosys, "{name}");
        }
        for name in [
            "read",
            "write",
            "openat",
            "mmap",
            "futex",
            "execve",
            "sendmsg",
            "close",
            "getpid",
            "clock_gettime",
            "getrandom",
            "seccomp",
            "prctl",
        ] {
            assert_eq!(v(&c, name, [0; 6]), ALLOW, "{name}");
        }
        // clone: plain fork/thread flags allowed, any namespace flag denied (low 32 bits).
        let sigchld = libc::SIGCHLD as u64;
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        assert_eq!(v(&c, "clone", [sigchld, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(v(&c, "clone", [thread, 0, 0, 0, 0, 0]), ALLOW);
        for flag in [
            libc::CLONE_NEWNS,
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWIPC,
            libc::CLONE_NEWUTS,
            libc::CLONE_NEWCGROUP,
        ] {
            let f = flag as u32 as u64;
            assert_eq!(
                v(&c, "clone", [f | sigchld, 0, 0, 0, 0, 0]),
                eperm,
                "{flag:#x}"
            );
            assert_eq!(
                v(&c, "clone", [f | 1 << 32, 0, 0, 0, 0, 0]),
                eperm,
                "{flag:#x}"
            );
        }
        // ioctl: TIOCSTI/TIOCLINUX on the low 32 bits (CVE-2019-10063).
        let tiocsti = libc::TIOCSTI as u64;
        assert_eq!(v(&c, "ioctl", [0, tiocsti, 0, 0, 0, 0]), eperm);
        assert_eq!(v(&c, "ioctl", [0, tiocsti | 1 << 32, 0, 0, 0, 0]), eperm);
        assert_eq!(
            v(&c, "ioctl", [0, libc::TIOCLINUX as u64, 0, 0, 0, 0]),
            eperm
        );
        assert_eq!(v(&c, "ioctl", [0, libc::TCGETS as u64, 0, 0, 0, 0]), ALLOW);
        assert_eq!(
            v(&c, "ioctl", [0, libc::FIONREAD as u64, 0, 0, 0, 0]),
            ALLOW
        );
        // personality.
        for ok in [0u64, 8, 0x20000, 0x20008, 0xffff_ffff] {
            assert_eq!(v(&c, "personality", [ok, 0, 0, 0, 0, 0]), ALLOW, "{ok:#x}");
        }
        for bad in [
            libc::ADDR_NO_RANDOMIZE as u64,
            libc::READ_IMPLIES_EXEC as u64,
            1,
        ] {
            assert_eq!(
                v(&c, "personality", [bad, 0, 0, 0, 0, 0]),
                eperm,
                "{bad:#x}"
            );
        }
        // mknod: device nodes denied, FIFOs allowed.
        let chr = u64::from(libc::S_IFCHR | 0o600);
        let blk = u64::from(libc::S_IFBLK | 0o600);
        let fifo = u64::from(libc::S_IFIFO | 0o600);
        assert_eq!(v(&c, "mknodat", [0, 0, chr, 0, 0, 0]), eperm);
        assert_eq!(v(&c, "mknodat", [0, 0, blk, 0, 0, 0]), eperm);
        assert_eq!(v(&c, "mknodat", [0, 0, fifo, 0, 0, 0]), ALLOW);
        assert_eq!(v(&c, "mknod", [0, chr, 0, 0, 0, 0]), eperm);
        assert_eq!(v(&c, "mknod", [0, fifo, 0, 0, 0, 0]), ALLOW);
        // socket families.
        let sock = |domain: c_int, proto: c_int| {
            v(
                &c,
                "socket",
                [domain as u64, libc::SOCK_RAW as u64, proto as u64, 0, 0, 0],
            )
        };
        for ok in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6] {
            assert_eq!(sock(ok, 0), ALLOW, "{ok}");
        }
        for bad in [libc::AF_PACKET, libc::AF_VSOCK, libc::AF_ALG, libc::AF_KEY] {
            assert_eq!(sock(bad, 0), eperm, "{bad}");
        }
        let high_netlink = v(
            &c,
            "socket",
            [libc::AF_NETLINK as u64 | 1 << 32, 3, 0, 0, 0, 0],
        );
        if network {
            assert_eq!(sock(libc::AF_NETLINK, libc::NETLINK_ROUTE), ALLOW);
            assert_eq!(sock(libc::AF_NETLINK, libc::NETLINK_AUDIT), eperm);
            assert_eq!(high_netlink, ALLOW);
        } else {
            assert_eq!(sock(libc::AF_NETLINK, libc::NETLINK_ROUTE), eperm);
            assert_eq!(high_netlink, eperm);
        }
        // x32 and foreign architectures.
        assert_eq!(verdict(&c, X86, 0x4000_0000 | 39, [0; 6]), KILL);
        assert_eq!(verdict(&c, 0x4000_0003, 20, [0; 6]), KILL);
    }
}

#[test]
fn strict_compiles_with_notify() {
    let c = compiled("strict", false);
    assert_eq!(c.name, "strict");
    assert!(c.notify);
    assert_eq!(c.programs.len(), 1);
    assert_eq!(c.listener_index(), Some(0));
    let main = &c.programs[0];
    assert!(main.iter().any(|f| f.code == bpf::RET_K && f.k == NOTIF));
    assert!(
        !main.iter().any(|f| f.code == bpf::RET_K
            && f.k & libc::SECCOMP_RET_ACTION_FULL == libc::SECCOMP_RET_TRACE)
    );
    // The architecture check is KILL_PROCESS, never a notification.
    assert_eq!((main[2].code, main[2].k), (bpf::RET_K, KILL));
    for name in REQUIRED_SYSCALLS {
        assert_eq!(v(&c, name, [0; 6]), ALLOW, "{name}");
    }
    for name in [
        "read",
        "mmap",
        "mprotect",
        "futex",
        "clock_gettime",
        "getrandom",
        "clone",
    ] {
        assert_eq!(v(&c, name, [0; 6]), ALLOW, "{name}");
    }
    for name in [
        "socket", "ptrace", "mount", "unshare", "bpf", "connect", "seccomp",
    ] {
        assert_eq!(v(&c, name, [0; 6]), NOTIF, "{name}");
    }
    for name in ["clone3", "io_uring_setup"] {
        assert_eq!(v(&c, name, [0; 6]), errno_ret(libc::ENOSYS), "{name}");
    }
    let newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
    assert_eq!(v(&c, "clone", [newuser, 0, 0, 0, 0, 0]), NOTIF);
    assert_eq!(
        v(&c, "ioctl", [1, libc::TIOCSTI as u64 | 1 << 32, 0, 0, 0, 0]),
        NOTIF
    );
    assert_eq!(v(&c, "ioctl", [1, libc::TCGETS as u64, 0, 0, 0, 0]), ALLOW);
    // Unknown numbers are violations too; x32 is killed outright.
    assert_eq!(verdict(&c, X86, 1000, [0; 6]), NOTIF);
    assert_eq!(verdict(&c, X86, 0x4000_0000, [0; 6]), KILL);
    assert!(c.denied_summary.iter().any(|s| s.contains("does not name")));

    // kill = "process" semantics.
    let p = SeccompPolicy::named("strict").unwrap();
    let k = p.with_kill_process().compile(false).unwrap();
    assert!(!k.notify);
    assert_eq!(k.listener_index(), None);
    assert_eq!(v(&k, "socket", [0; 6]), KILL);
    assert_eq!(v(&k, "read", [0; 6]), ALLOW);
}

#[test]
fn none_compiles_to_nothing() {
    let c = compiled("none", false);
    assert!(c.programs.is_empty());
    assert!(!c.notify);
    assert_eq!(c.listener_index(), None);
}

#[test]
fn allow_everything_keeps_only_the_arch_checks() {
    let p =
        SeccompPolicy::from_toml_str("name = \"open\"\ndefault_action = \"allow\"\n", "o").unwrap();
    let c = p.compile(false).unwrap();
    assert_eq!(c.programs.len(), 1);
    assert!(c.programs[0].len() <= 10, "{}", c.programs[0].len());
    assert!(!c.notify);
    assert_eq!(verdict(&c, X86, 39, [0; 6]), ALLOW);
    assert_eq!(verdict(&c, X86, -1, [0; 6]), ALLOW);
    assert_eq!(verdict(&c, X86, 0x4000_0027, [0; 6]), KILL);
    assert_eq!(verdict(&c, 0x4000_0003, 39, [0; 6]), KILL);
}

#[test]
fn semantics_most_severe_first_errno_and_default_errno() {
    let text = r#"
name = "mix"
default_action = "errno"
default_errno = "EACCES"
kill = "process"

[[rule]]
action = "allow"
syscalls = ["close", "execve", "exit_group", "sendmsg", "write", "read"]

[[rule]]
action = "errno"
errno = "ENOSYS"
syscalls = ["read"]
[[rule.when]]
arg = 0
bits = 32
op = "ge"
value = 100

[[rule]]
action = "errno"
errno = "EPERM"
syscalls = ["read"]
[[rule.when]]
arg = 0
bits = 32
op = "ge"
value = 50

[[rule]]
action = "kill"
syscalls = ["read"]
[[rule.when]]
arg = 0
bits = 64
op = "eq"
value = 666
"#;
    let c = SeccompPolicy::from_toml_str(text, "mix")
        .unwrap()
        .compile(false)
        .unwrap();
    assert!(!c.notify);
    let read = |fd: u64| v(&c, "read", [fd, 0, 0, 0, 0, 0]);
    assert_eq!(read(3), ALLOW);
    assert_eq!(read(60), errno_ret(libc::EPERM));
    assert_eq!(read(200), errno_ret(libc::ENOSYS)); // both errno rules hold: the first listed
    assert_eq!(read(666), KILL); // kill beats errno
    assert_eq!(read(666 | 1 << 32), errno_ret(libc::ENOSYS)); // 64-bit compare
    assert_eq!(v(&c, "getpid", [0; 6]), errno_ret(libc::EACCES));
}

#[test]
fn network_rules_follow_the_flag() {
    let text = r#"
name = "net"
default_action = "allow"
[[rule]]
action = "errno"
network = "off"
syscalls = ["connect"]
[[rule]]
action = "errno"
network = "on"
syscalls = ["bind"]
"#;
    let p = SeccompPolicy::from_toml_str(text, "net").unwrap();
    let off = p.compile(false).unwrap();
    let on = p.compile(true).unwrap();
    assert_eq!(v(&off, "connect", [0; 6]), errno_ret(libc::EPERM));
    assert_eq!(v(&off, "bind", [0; 6]), ALLOW);
    assert_eq!(v(&on, "connect", [0; 6]), ALLOW);
    assert_eq!(v(&on, "bind", [0; 6]), errno_ret(libc::EPERM));
}

#[test]
fn compilation_is_fast() {
    for name in ["default", "strict"] {
        let mut best = Duration::MAX;
        for _ in 0..20 {
            let start = Instant::now();
            let c = SeccompPolicy::named(name).unwrap().compile(false).unwrap();
            best = best.min(start.elapsed());
            assert!(!c.programs.is_empty());
        }
        eprintln!("{name}: parse + compile best {best:?} (debug build)");
        assert!(best < Duration::from_millis(20), "{name}: {best:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour under the kernel, in forked children.

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("runcell-seccomp-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fprogs(c: &CompiledSeccomp) -> Vec<libc::sock_fprog> {
    c.programs
        .iter()
        .map(|p| libc::sock_fprog {
            len: u16::try_from(p.len()).unwrap(),
            filter: p.as_ptr().cast_mut(),
        })
        .collect()
}

/// Installs the programs in order (the last with NEW_LISTENER when `listener_to` is a socket),
/// sending the listener over that socket. Child side only: raw syscalls, no allocation.
unsafe fn install(progs: &[libc::sock_fprog], listener_to: Option<c_int>) {
    // SAFETY: plain syscalls on the caller's valid program array; failures end the child.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            libc::_exit(120);
        }
        for (i, prog) in progs.iter().enumerate() {
            let last = i + 1 == progs.len();
            let flags = match listener_to {
                Some(_) if last => libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                _ => 0,
            };
            let fd = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                prog as *const libc::sock_fprog,
            );
            if fd < 0 {
                libc::_exit(121);
            }
            if let (Some(sock), true) = (listener_to, last) {
                if !send_fd(sock, fd as c_int) {
                    libc::_exit(122);
                }
                libc::close(fd as c_int);
                libc::close(sock);
            }
        }
    }
}

/// Sends `fd` over a unix socket with SCM_RIGHTS (the payload's path to its init).
unsafe fn send_fd(sock: c_int, fd: c_int) -> bool {
    // SAFETY: msghdr/cmsg built on the stack with a buffer large enough for one fd.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(4) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd);
        libc::sendmsg(sock, &msg, 0) == 1
    }
}

/// Receives one fd sent with [`send_fd`]; -1 when the peer closed without sending.
fn recv_fd(sock: c_int) -> c_int {
    // SAFETY: as in send_fd; the kernel fills the cmsg buffer, checked before reading.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) != 1 {
            return -1;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return -1;
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>())
    }
}

enum Payload<'a> {
    /// Run this function after installing the filters; its return value is the exit code.
    Func(fn() -> c_int),
    /// execve(argv[0], argv, envp) after installing the filters.
    Exec {
        argv: &'a [*const c_char],
        envp: &'a [*const c_char],
    },
}

struct Run {
    /// Raw wait status.
    status: c_int,
    stdout: Vec<u8>,
    /// The syscall number a USER_NOTIF reported, if any (the child is then killed).
    violation: Option<i32>,
}

impl Run {
    fn exit_code(&self) -> Option<c_int> {
        libc::WIFEXITED(self.status).then(|| libc::WEXITSTATUS(self.status))
    }
    fn signal(&self) -> Option<c_int> {
        libc::WIFSIGNALED(self.status).then(|| libc::WTERMSIG(self.status))
    }
}

/// Forks, installs `c` in the child, runs the payload, and supervises like runcell's
/// supervisor: a notification is recorded and the child killed.
fn run(c: &CompiledSeccomp, payload: Payload<'_>, stdin: &[u8]) -> Run {
    let progs = fprogs(c);
    let mut inp = [0; 2];
    let mut out = [0; 2];
    let mut sv = [0; 2];
    // SAFETY: fd creation into local arrays; all fds are CLOEXEC so concurrently forked test
    // children do not keep them open.
    unsafe {
        assert_eq!(libc::pipe2(inp.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(out.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr()
            ),
            0
        );
        assert!(stdin.len() < 60_000);
        assert_eq!(
            libc::write(inp[1], stdin.as_ptr().cast(), stdin.len()),
            stdin.len() as isize
        );
        libc::close(inp[1]);
    }
    let listener_to = c.notify.then_some(sv[1]);
    // SAFETY: after fork the child only makes raw syscalls (no allocation, no locks).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: child side, see above.
        unsafe {
            libc::dup2(inp[0], 0);
            libc::dup2(out[1], 1);
            install(&progs, listener_to);
            match payload {
                Payload::Func(f) => libc::_exit(f()),
                Payload::Exec { argv, envp } => {
                    libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
                    libc::_exit(127);
                }
            }
        }
    }
    // SAFETY: closing our copies of the child's ends.
    unsafe {
        libc::close(inp[0]);
        libc::close(out[1]);
        libc::close(sv[1]);
    }
    let listener = if c.notify { recv_fd(sv[0]) } else { -1 };
    // SAFETY: sv[0] is ours.
    unsafe { libc::close(sv[0]) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut violation = None;
    let mut stdout = Vec::new();
    // SAFETY: out[0] is an fd we own; File takes it over.
    let mut reader = unsafe { std::fs::File::from_raw_fd(out[0]) };
    if listener >= 0 {
        loop {
            let mut pfd = libc::pollfd {
                fd: listener,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, 100) };
            if r > 0 && pfd.revents & libc::POLLIN != 0 {
                // SAFETY: zeroed seccomp_notif as the kernel requires; pid is our child.
                unsafe {
                    let mut notif: libc::seccomp_notif = std::mem::zeroed();
                    if libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) == 0 {
                        violation = Some(notif.data.nr);
                        libc::kill(pid, libc::SIGKILL);
                        break;
                    }
                }
            }
            if r > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: our child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                break;
            }
        }
        // SAFETY: listener is ours.
        unsafe { libc::close(listener) };
    }
    reader.read_to_end(&mut stdout).ok();
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    Run {
        status,
        stdout,
        violation,
    }
}

fn errno() -> c_int {
    // SAFETY: reading this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// `ret` is -1 with `errno == want`.
fn fails_with(ret: i64, want: c_int) -> bool {
    ret == -1 && errno() == want
}

/// Child body for the default policy; returns 0 or the number of the failing check.
fn default_checks() -> c_int {
    // SAFETY: raw syscalls with valid (or deliberately bogus but harmless) arguments; a
    // process created by a clone the filter failed to stop exits at once.
    unsafe {
        let sys = libc::syscall;
        if !fails_with(
            sys(
                libc::SYS_mount,
                c"none".as_ptr(),
                c"/nonexistent-runcell-seccomp".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                0,
            ),
            libc::EPERM,
        ) {
            return 1;
        }
        if !fails_with(sys(libc::SYS_unshare, 0), libc::EPERM) {
            return 2;
        }
        if !fails_with(sys(libc::SYS_setns, -1, 0), libc::EPERM) {
            return 3;
        }
        for (i, flags) in [
            libc::CLONE_NEWUSER as u32 as u64 | libc::SIGCHLD as u64,
            libc::CLONE_NEWNS as u64 | libc::SIGCHLD as u64 | 1 << 32,
            libc::CLONE_NEWNET as u64 | libc::SIGCHLD as u64,
        ]
        .into_iter()
        .enumerate()
        {
            let r = sys(libc::SYS_clone, flags, 0, 0, 0, 0);
            if r == 0 {
                libc::_exit(0);
            }
            if !fails_with(r, libc::EPERM) {
                return 10 + i as c_int;
            }
        }
        // clone3 -> ENOSYS (zeroed clone_args would be a plain fork).
        let args = [0u64; 11];
        let r = sys(
            libc::SYS_clone3,
            args.as_ptr(),
            std::mem::size_of_val(&args),
        );
        if r == 0 {
            libc::_exit(0);
        }
        if !fails_with(r, libc::ENOSYS) {
            return 20;
        }
        let params = [0u8; 120];
        if !fails_with(
            sys(libc::SYS_io_uring_setup, 1, params.as_ptr()),
            libc::ENOSYS,
        ) {
            return 21;
        }
        // A plain fork still works.
        let r = sys(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0);
        if r == 0 {
            libc::_exit(7);
        }
        let mut st = 0;
        if r < 0 || libc::waitpid(r as libc::pid_t, &mut st, 0) != r as libc::pid_t {
            return 22;
        }
        if !libc::WIFEXITED(st) || libc::WEXITSTATUS(st) != 7 {
            return 23;
        }
        // ioctl TIOCSTI with high bits, TIOCLINUX; other ioctls pass through.
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return 30;
        }
        let ch = 0u8;
        let tiocsti = libc::TIOCSTI as u64;
        if !fails_with(
            sys(libc::SYS_ioctl, fd, tiocsti | 1 << 32, &ch),
            libc::EPERM,
        ) {
            return 31;
        }
        if !fails_with(sys(libc::SYS_ioctl, fd, tiocsti, &ch), libc::EPERM) {
            return 32;
        }
        if !fails_with(sys(libc::SYS_ioctl, fd, libc::TIOCLINUX, &ch), libc::EPERM) {
            return 33;
        }
        let mut termios = [0u8; 64];
        if !fails_with(
            sys(libc::SYS_ioctl, fd, libc::TCGETS, termios.as_mut_ptr()),
            libc::ENOTTY,
        ) {
            return 34;
        }
        if libc::write(fd, c"x".as_ptr().cast(), 1) != 1 {
            return 35;
        }
        libc::close(fd);
        // Sockets: netlink/packet denied (also with high bits in the domain), unix/inet fine.
        if !fails_with(
            sys(libc::SYS_socket, libc::AF_NETLINK, libc::SOCK_RAW, 0),
            libc::EPERM,
        ) {
            return 40;
        }
        if !fails_with(
            sys(
                libc::SYS_socket,
                libc::AF_NETLINK as u64 | 1 << 32,
                libc::SOCK_RAW,
                0,
            ),
            libc::EPERM,
        ) {
            return 41;
        }
        if !fails_with(
            sys(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0),
            libc::EPERM,
        ) {
            return 42;
        }
        for (i, domain) in [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6]
            .into_iter()
            .enumerate()
        {
            let s = sys(libc::SYS_socket, domain, libc::SOCK_STREAM, 0);
            if s < 0 && !(domain == libc::AF_INET6 && errno() == libc::EAFNOSUPPORT) {
                return 43 + i as c_int;
            }
            if s >= 0 {
                libc::close(s as c_int);
            }
        }
        // ptrace, personality, perf, bpf, keyctl.
        if !fails_with(
            sys(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0),
            libc::EPERM,
        ) {
            return 50;
        }
        if sys(libc::SYS_personality, 0xffff_ffffu64) < 0 {
            return 51;
        }
        if !fails_with(
            sys(libc::SYS_personality, libc::ADDR_NO_RANDOMIZE),
            libc::EPERM,
        ) {
            return 52;
        }
        if !fails_with(sys(libc::SYS_bpf, 0, 0, 0), libc::EPERM) {
            return 53;
        }
        if !fails_with(sys(libc::SYS_keyctl, 0, 0, 0), libc::EPERM) {
            return 54;
        }
        if !fails_with(sys(libc::SYS_chroot, c"/".as_ptr()), libc::EPERM) {
            return 55;
        }
        // Ordinary calls.
        if sys(libc::SYS_getpid) <= 0 {
            return 60;
        }
        let mut buf = [0u8; 8];
        if sys(libc::SYS_getrandom, buf.as_mut_ptr(), buf.len(), 0) != 8 {
            return 61;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) != 0 {
            return 62;
        }
        0
    }
}

fn network_on_checks() -> c_int {
    // SAFETY: raw socket syscalls; created sockets are closed.
    unsafe {
        let s = libc::syscall(
            libc::SYS_socket,
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if s < 0 {
            return 1;
        }
        libc::close(s as c_int);
        if !fails_with(
            libc::syscall(
                libc::SYS_socket,
                libc::AF_NETLINK,
                libc::SOCK_RAW,
                libc::NETLINK_AUDIT,
            ),
            libc::EPERM,
        ) {
            return 2;
        }
        if !fails_with(
            libc::syscall(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0),
            libc::EPERM,
        ) {
            return 3;
        }
        0
    }
}

#[test]
fn default_policy_in_a_real_child() {
    let c = compiled("default", false);
    let r = run(&c, Payload::Func(default_checks), b"");
    assert_eq!(
        r.exit_code(),
        Some(0),
        "failed check (exit code), status {:#x}",
        r.status
    );
    let c = compiled("default", true);
    let r = run(&c, Payload::Func(network_on_checks), b"");
    assert_eq!(
        r.exit_code(),
        Some(0),
        "failed check (exit code), status {:#x}",
        r.status
    );
}

#[test]
fn device_nodes_denied_fifos_allowed() {
    let dir = scratch_dir("mknod");
    let dev = CString::new(dir.join("dev").into_os_string().into_encoded_bytes()).unwrap();
    let fifo = CString::new(dir.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // The paths are leaked into statics so the fn-pointer payload can reach them.
    static PATHS: std::sync::OnceLock<(CString, CString)> = std::sync::OnceLock::new();
    let _ = PATHS.set((dev, fifo));
    fn body() -> c_int {
        let Some((dev, fifo)) = PATHS.get() else {
            return 9;
        };
        // SAFETY: mknodat on valid C paths in a private scratch directory.
        unsafe {
            let chr = libc::S_IFCHR | 0o600;
            if !fails_with(
                libc::mknodat(libc::AT_FDCWD, dev.as_ptr(), chr, libc::makedev(1, 3)).into(),
                libc::EPERM,
            ) {
                return 1;
            }
            if libc::mknodat(libc::AT_FDCWD, fifo.as_ptr(), libc::S_IFIFO | 0o600, 0) != 0 {
                return 2;
            }
        }
        0
    }
    let r = run(&compiled("default", false), Payload::Func(body), b"");
    assert_eq!(r.exit_code(), Some(0), "status {:#x}", r.status);
    assert!(dir.join("fifo").exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn x32_and_foreign_arch_are_killed() {
    fn x32() -> c_int {
        // SAFETY: an x32 getpid; the prelude kills the process before the kernel runs it.
        unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) as c_int }
    }
    let c = compiled("default", false);
    let r = run(&c, Payload::Func(x32), b"");
    assert_eq!(r.signal(), Some(libc::SIGSYS), "status {:#x}", r.status);

    #[cfg(target_arch = "x86_64")]
    {
        fn int80() -> c_int {
            let ret: i64;
            // SAFETY: the i386 getpid (20) through int 0x80; the architecture check kills the
            // process (AUDIT_ARCH_I386 is foreign to the filter).
            unsafe {
                std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack));
            }
            ret as c_int
        }
        let r = run(&c, Payload::Func(int80), b"");
        match r.signal() {
            Some(libc::SIGSYS) => {}
            // Kernels without IA32 emulation fault on int 0x80 before seccomp runs.
            Some(libc::SIGSEGV) => eprintln!("int 0x80 unsupported here; arch check not exercised"),
            other => panic!("int 0x80 not killed: {other:?} status {:#x}", r.status),
        }
    }
}

#[test]
fn strict_reports_violations_through_the_listener() {
    let c = compiled("strict", false);
    fn socket_inet() -> c_int {
        // SAFETY: a socket call the filter turns into a notification (strict refuses
        // AF_UNIX/AF_INET/AF_INET6 with EACCES; a packet socket is a violation).
        unsafe { libc::syscall(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0) as c_int }
    }
    fn ptrace() -> c_int {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) as c_int }
    }
    fn clone_newuser() -> c_int {
        // SAFETY: as above; a clone that got through would exit at once.
        unsafe {
            let r = libc::syscall(
                libc::SYS_clone,
                libc::CLONE_NEWUSER | libc::SIGCHLD,
                0,
                0,
                0,
                0,
            );
            if r == 0 {
                libc::_exit(0);
            }
            r as c_int
        }
    }
    fn clone3_enosys() -> c_int {
        let args = [0u64; 11];
        // SAFETY: clone3 gets ENOSYS from the filter; a real fork child would exit at once.
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                args.as_ptr(),
                std::mem::size_of_val(&args),
            )
        };
        if r == 0 {
            // SAFETY: exiting a child that should not exist.
            unsafe { libc::_exit(0) };
        }
        if fails_with(r, libc::ENOSYS) { 0 } else { 1 }
    }
    for (body, want) in [
        (socket_inet as fn() -> c_int, "socket"),
        (ptrace, "ptrace"),
        (clone_newuser, "clone"),
    ] {
        let r = run(&c, Payload::Func(body), b"");
        let nr = r
            .violation
            .unwrap_or_else(|| panic!("{want}: no violation, {:#x}", r.status));
        assert_eq!(syscall_name(i64::from(nr)), Some(want));
        assert_eq!(r.signal(), Some(libc::SIGKILL));
    }
    let r = run(&c, Payload::Func(clone3_enosys), b"");
    assert_eq!(r.violation, None);
    assert_eq!(r.exit_code(), Some(0));
}

/// Runs `argv` under `policy` with stdin; returns the run.
fn exec_under(c: &CompiledSeccomp, argv: &[&str], stdin: &[u8]) -> Run {
    let cargs: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argp: Vec<*const c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    argp.push(std::ptr::null());
    let env: [&CStr; 3] = [c"PATH=/usr/bin:/bin", c"HOME=/tmp", c"LANG=C.UTF-8"];
    let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    run(
        c,
        Payload::Exec {
            argv: &argp,
            envp: &envp,
        },
        stdin,
    )
}

fn assert_runs(c: &CompiledSeccomp, argv: &[&str], stdin: &[u8], want: &str) {
    let r = exec_under(c, argv, stdin);
    let violation = r.violation.map(|n| (n, syscall_name(i64::from(n))));
    assert_eq!(violation, None, "{argv:?}: security violation");
    assert_eq!(r.exit_code(), Some(0), "{argv:?}: status {:#x}", r.status);
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), want, "{argv:?}");
}

const PY_SUM: &str = "import sys, threading\na, b = map(int, sys.stdin.read().split())\nt = threading.Thread(target=print, args=(a + b,))\nt.start(); t.join()";
const NODE_SUM: &str = "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{const [a,b]=d.trim().split(/\\s+/).map(Number);setTimeout(()=>console.log(a+b),1)})";

fn build_c_programs(dir: &Path) -> (PathBuf, PathBuf) {
    let c_src = dir.join("sum.c");
    let cpp_src = dir.join("sum.cpp");
    std::fs::write(
        &c_src,
        "#include <stdio.h>\n#include <stdlib.h>\nint main(void){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 3; char *p=malloc(32<<20); for(int i=0;i<(32<<20);i+=4096)p[i]=1; printf(\"%ld\\n\",a+b+p[4096]-1); free(p); return 0;}\n",
    )
    .unwrap();
    std::fs::write(
        &cpp_src,
        "#include <iostream>\n#include <thread>\n#include <vector>\nint main(){long a,b; if(!(std::cin>>a>>b)) return 3; std::vector<long> v(1<<20); std::thread t([&]{ for(auto &x: v) x=a; }); t.join(); std::cout << a+b+v[5]-a << std::endl; return 0;}\n",
    )
    .unwrap();
    let c_bin = dir.join("sum_c");
    let cpp_bin = dir.join("sum_cpp");
    let ok = std::process::Command::new("/usr/bin/gcc")
        .args(["-O2", "-o"])
        .arg(&c_bin)
        .arg(&c_src)
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = std::process::Command::new("/usr/bin/g++")
        .args(["-O2", "-pthread", "-o"])
        .arg(&cpp_bin)
        .arg(&cpp_src)
        .status()
        .unwrap();
    assert!(ok.success());
    (c_bin, cpp_bin)
}

#[test]
fn strict_runs_judge_workloads() {
    let c = compiled("strict", false);
    let dir = scratch_dir("judge");
    let (c_bin, cpp_bin) = build_c_programs(&dir);
    let c_bin = c_bin.to_str().unwrap();
    let cpp_bin = cpp_bin.to_str().unwrap();
    assert_runs(&c, &["/usr/bin/python3", "-c", "print(1)"], b"", "1");
    assert_runs(&c, &["/usr/bin/python3", "-c", PY_SUM], b"3 4\n", "7");
    assert_runs(&c, &[c_bin], b"3 4\n", "7");
    assert_runs(&c, &[cpp_bin], b"3 4\n", "7");
    assert_runs(&c, &["/usr/bin/node", "-e", "console.log(1)"], b"", "1");
    assert_runs(&c, &["/usr/bin/node", "-e", NODE_SUM], b"3 4\n", "7");
    // The default policy runs them too.
    let d = compiled("default", false);
    assert_runs(&d, &["/usr/bin/python3", "-c", PY_SUM], b"3 4\n", "7");
    assert_runs(&d, &[cpp_bin], b"3 4\n", "7");
    assert_runs(&d, &["/usr/bin/node", "-e", NODE_SUM], b"3 4\n", "7");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn strict_kills_a_python_socket() {
    // socket(AF_INET) fails with EACCES (runtimes probe it and go on); an exotic family is a
    // violation.
    let c = compiled("strict", false);
    let r = exec_under(
        &c,
        &[
            "/usr/bin/python3",
            "-c",
            "import socket\ntry:\n socket.socket()\nexcept PermissionError: print('denied')",
        ],
        b"",
    );
    assert!(r.violation.is_none());
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "denied");
    let code = "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW); print('escaped')";
    let r = exec_under(&c, &["/usr/bin/python3", "-c", code], b"");
    let nr = r.violation.expect("socket() must be reported");
    assert_eq!(syscall_name(i64::from(nr)), Some("socket"));
    assert!(!String::from_utf8_lossy(&r.stdout).contains("escaped"));
    // With kill = "process" the same program dies of SIGSYS.
    let k = SeccompPolicy::named("strict")
        .unwrap()
        .compile_with(false, KillMode::Process)
        .unwrap();
    let r = exec_under(&k, &["/usr/bin/python3", "-c", code], b"");
    assert_eq!(r.signal(), Some(libc::SIGSYS), "status {:#x}", r.status);
}

// ---------------------------------------------------------------------------------------------
// Equivalence of the single binary-search program with the previous compiler's output.

/// A policy using every operator at both widths, conditional and unconditional rules on the
/// same syscalls, several errnos, conditional kills and an errno default: the shapes a custom
/// policy file can take, beyond what the built-ins use.
const EVERY_SHAPE: &str = r#"
name = "every-shape"
default_action = "errno"
default_errno = "EACCES"
kill = "notify"

[[rule]]
action = "allow"
syscalls = ["read", "write", "close", "execve", "exit_group", "sendmsg", "ioctl", "socket",
            "mmap", "mprotect", "openat", "clone", "fcntl", "prctl", "personality", "kill"]

[[rule]]
action = "kill"
syscalls = ["ioctl"]
[[rule.when]]
arg = 1
bits = 32
op = "in"
values = ["TIOCSTI", "TIOCLINUX"]

[[rule]]
action = "errno"
errno = "EPERM"
syscalls = ["ioctl"]
[[rule.when]]
arg = 1
bits = 64
op = "eq"
value = "0x5401"

[[rule]]
action = "errno"
errno = "EAFNOSUPPORT"
syscalls = ["socket"]
[[rule.when]]
arg = 0
bits = 32
op = "not_in"
values = ["AF_UNIX", "AF_INET"]

[[rule]]
action = "errno"
errno = "EPERM"
syscalls = ["socket"]
[[rule.when]]
arg = 0
bits = 32
op = "eq"
value = "AF_INET"
[[rule.when]]
arg = 1
bits = 32
op = "masked_eq"
mask = "0xf"
value = "SOCK_RAW"

[[rule]]
action = "kill"
syscalls = ["clone"]
[[rule.when]]
arg = 0
bits = 64
op = "any_bits"
value = "CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET"

[[rule]]
action = "errno"
errno = "EPERM"
syscalls = ["mmap", "mprotect"]
[[rule.when]]
arg = 2
bits = 64
op = "masked_eq"
mask = "0xffffffff00000004"
value = "0x100000004"

[[rule]]
action = "errno"
errno = "EINVAL"
syscalls = ["fcntl"]
[[rule.when]]
arg = 1
bits = 64
op = "ge"
value = "0x100000400"

[[rule]]
action = "errno"
errno = "EINVAL"
syscalls = ["fcntl"]
[[rule.when]]
arg = 1
bits = 64
op = "lt"
value = 3

[[rule]]
action = "errno"
errno = "ENOSYS"
syscalls = ["prctl"]
[[rule.when]]
arg = 0
bits = 64
op = "gt"
value = "0x1_0000_0010"
[[rule.when]]
arg = 1
bits = 32
op = "le"
value = 7

[[rule]]
action = "errno"
errno = "ENOSYS"
syscalls = ["personality"]
[[rule.when]]
arg = 0
bits = 64
op = "ne"
value = "0xffffffff"

[[rule]]
action = "errno"
errno = "EPERM"
syscalls = ["personality", "kill"]
[[rule.when]]
arg = 0
bits = 32
op = "ge"
value = 8
[[rule.when]]
arg = 1
bits = 32
op = "lt"
value = 9

[[rule]]
action = "errno"
errno = "EIO"
syscalls = ["kill"]
[[rule.when]]
arg = 1
bits = 32
op = "gt"
value = 15

[[rule]]
action = "kill"
syscalls = ["ptrace", "mount"]

[[rule]]
action = "errno"
errno = "EPERM"
network = "off"
syscalls = ["connect"]
"#;

/// Arguments worth trying against the conditions on syscall `nr`: each constant, its
/// neighbours, its other-half variants, the masks and their bits, the extremes.
fn interesting_args(plan: &Plan, nr: i64) -> Vec<[u64; 6]> {
    let mut per_arg: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
    for (_, map) in &plan.segments {
        for conj in map.get(&nr).into_iter().flatten().flatten() {
            for c in conj {
                let set = per_arg.entry(usize::from(c.arg)).or_default();
                let mut base = vec![c.value];
                if let bpf::CmpOp::MaskedEq(m) = c.op {
                    base.extend([m, c.value & m, !m, c.value | !m]);
                    base.extend((0..64).map(|b| 1u64 << b).filter(|b| m & b != 0));
                }
                for v in base {
                    set.extend([
                        v,
                        v.wrapping_add(1),
                        v.wrapping_sub(1),
                        v ^ (1 << 32),
                        v | 0xffff_ffff_0000_0000,
                        v & 0xffff_ffff,
                        (v & 0xffff_ffff_0000_0000) | 0xffff_ffff,
                        v >> 32,
                        v << 32,
                    ]);
                }
            }
        }
    }
    let mut out = vec![[0u64; 6], [u64::MAX; 6], [0xffff_ffff; 6], [1 << 32; 6]];
    let args: Vec<(usize, Vec<u64>)> = per_arg
        .into_iter()
        .map(|(a, set)| {
            let mut values: Vec<u64> = set.into_iter().collect();
            values.extend([0, 1, u64::MAX, 0xffff_ffff, 0x8000_0000_0000_0000]);
            (a, values)
        })
        .collect();
    for (a, values) in &args {
        for v in values {
            let mut x = [0u64; 6];
            x[*a] = *v;
            out.push(x);
            let mut y = [u64::MAX; 6];
            y[*a] = *v;
            out.push(y);
        }
    }
    for (i, (a, va)) in args.iter().enumerate() {
        for (b, vb) in args.iter().skip(i + 1) {
            for x in va {
                for y in vb {
                    let mut v = [0u64; 6];
                    v[*a] = *x;
                    v[*b] = *y;
                    out.push(v);
                }
            }
        }
    }
    out
}

#[test]
fn single_program_decides_exactly_like_the_previous_stack() {
    if HOST.is_none() {
        return;
    }
    let policies = [
        SeccompPolicy::named("default").unwrap(),
        SeccompPolicy::named("strict").unwrap(),
        SeccompPolicy::from_toml_str(EVERY_SHAPE, "every-shape").unwrap(),
        SeccompPolicy::from_toml_str("name = \"open\"\ndefault_action = \"allow\"\n", "o").unwrap(),
    ];
    let mut numbers: Vec<u32> = (0..=1100).collect();
    numbers.extend((0..=600).map(|n| X32_SYSCALL_BIT + n));
    numbers.extend([
        0x3fff_ffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_0000,
        0xffff_fffe,
        u32::MAX,
    ]);
    let arches = [X86, 0x4000_0003, AUDIT_ARCH_AARCH64, 0, u32::MAX];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut checked = 0usize;
    for policy in &policies {
        for mode in [KillMode::Notify, KillMode::Process] {
            for network in [false, true] {
                let new = policy.compile_with(network, mode).unwrap();
                let old = CompiledSeccomp {
                    name: policy.name.clone(),
                    programs: legacy::compile(policy, network, mode),
                    notify: false,
                    denied_summary: Vec::new(),
                };
                assert_eq!(new.programs.len(), 1, "{}: one program", policy.name);
                let old_notify = old
                    .programs
                    .iter()
                    .flatten()
                    .any(|f| f.code == bpf::RET_K && f.k == libc::SECCOMP_RET_USER_NOTIF);
                assert_eq!(new.notify, old_notify, "{}: listener", policy.name);
                let plan = policy.plan(network, mode);
                for &nr in &numbers {
                    let mut inputs = interesting_args(&plan, i64::from(nr));
                    inputs.extend((0..8).map(|_| std::array::from_fn(|_| next())));
                    for (ai, &arch) in arches.iter().enumerate() {
                        // Foreign architectures: a few argument vectors are plenty.
                        let inputs = if ai == 0 { &inputs[..] } else { &inputs[..2] };
                        for args in inputs {
                            let want = verdict(&old, arch, i64::from(nr), *args);
                            let got = verdict(&new, arch, i64::from(nr), *args);
                            assert_eq!(
                                got,
                                want,
                                "{} net={network} {mode:?}: arch {arch:#x} nr {nr:#x} ({:?}) \
                                 args {args:x?}: new {got:#x}, old {want:#x}",
                                policy.name,
                                syscall_name(i64::from(nr))
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!("{checked} (policy, syscall, arch, arguments) cases agree");
}

#[test]
fn binary_search_is_shorter_than_the_linear_chain() {
    for name in ["default", "strict"] {
        let policy = SeccompPolicy::named(name).unwrap();
        let new = policy.compile(false).unwrap();
        let old: usize = legacy::compile(&policy, false, policy.kill_mode)
            .iter()
            .map(Vec::len)
            .sum();
        eprintln!(
            "{name}: {} instructions (was {old} in 2 programs)",
            new.instruction_count()
        );
    }
}

/// Nanoseconds on the monotonic clock (async-signal-safe: usable after fork).
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// In a forked child: the time to attach `progs`, and then per `getppid` (median of 3 loops).
fn attach_and_syscall_ns(progs: &[libc::sock_fprog], loops: u64) -> (u64, u64) {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe(2) into a valid array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child makes raw syscalls only, then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: raw syscalls on valid buffers; the child never returns.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let t0 = now_ns();
            for prog in progs {
                if libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    prog as *const libc::sock_fprog,
                ) != 0
                {
                    libc::_exit(121);
                }
            }
            let attach = now_ns() - t0;
            let mut per = [0u64; 3];
            for slot in &mut per {
                let t = now_ns();
                for _ in 0..loops {
                    libc::syscall(libc::SYS_getppid);
                }
                *slot = (now_ns() - t) * 1000 / loops;
            }
            per.sort_unstable();
            let out = [attach, per[1]];
            libc::write(fds[1], out.as_ptr().cast(), 16);
            libc::_exit(0);
        }
    }
    let mut buf = [0u8; 16];
    // SAFETY: the parent owns fds[0]; File takes it over.
    let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    r.read_exact(&mut buf).unwrap();
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let attach = u64::from_ne_bytes(buf[..8].try_into().unwrap());
    let per = u64::from_ne_bytes(buf[8..].try_into().unwrap());
    (attach, per)
}

/// Measurement, not a check: attach cost and per-syscall overhead of the previous stacked
/// programs against the single binary-search program, interleaved in one run.
/// `cargo test --release --lib -- --ignored seccomp_attach_and_syscall_cost --nocapture`
#[test]
#[ignore = "measurement: prints figures, asserts nothing about speed"]
fn seccomp_attach_and_syscall_cost() {
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    for name in ["default", "strict"] {
        let policy = SeccompPolicy::named(name).unwrap().with_kill_process();
        let new = policy.compile(false).unwrap();
        let old = CompiledSeccomp {
            programs: legacy::compile(&policy, false, KillMode::Process),
            ..new.clone()
        };
        let none = CompiledSeccomp {
            programs: Vec::new(),
            ..new.clone()
        };
        let mut rows: [(&str, Vec<u64>, Vec<u64>); 3] = [
            ("no filter", Vec::new(), Vec::new()),
            ("previous (2 programs)", Vec::new(), Vec::new()),
            ("single binary search", Vec::new(), Vec::new()),
        ];
        for _ in 0..200 {
            for (i, c) in [&none, &old, &new].into_iter().enumerate() {
                let (attach, per) = attach_and_syscall_ns(&fprogs(c), 20_000);
                rows[i].1.push(attach);
                rows[i].2.push(per);
            }
        }
        for (label, attach, per) in rows {
            eprintln!(
                "{name:8} {label:24} attach {:>7} ns  getppid {:>6.1} ns",
                median(attach),
                median(per) as f64 / 1000.0
            );
        }
    }
}

/// A fork taken while another thread holds a built-in policy's compile cache (another
/// thread's `build()`): the child parses and compiles with a cache of its own (before, it
/// waited on its parent's lock for ever).
#[test]
fn a_fork_while_the_compile_cache_is_locked_does_not_hang_the_child() {
    let (held, hold) = std::sync::mpsc::channel::<()>();
    let (done, finish) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _g = DEFAULT_BUILTIN
            .compiled
            .get_or_init(|| Mutex::new(Vec::new()))
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        held.send(()).unwrap();
        let _ = finish.recv();
    });
    hold.recv().unwrap();
    let status = crate::sandbox::fork::in_forked_child(30, || {
        (0..2).all(|_| {
            SeccompPolicy::named("default")
                .and_then(|p| p.compile(false))
                .is_ok_and(|c| c.programs.len() == 1)
        })
    });
    done.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(status, 0, "the child (SIGALRM {}: it hung)", libc::SIGALRM);
}
