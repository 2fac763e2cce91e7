//! Landlock: which paths the program may read, write or execute, and (where the kernel has it)
//! TCP and scope restrictions, computed once per `Sandbox` from the mount plan.
//!
//! The rules come from the root plan (`rootfs::RootPlan::rules`). The child creates its own
//! ruleset and adds the path rules after its mounts exist (a rule attaches to the directory
//! object, so one added before a tmpfs is mounted over the path would not cover the tmpfs; see
//! DESIGN §7), each path opened inside the new root without following a symlink
//! ([`add_rules`]). Access masks come from the `landlock` crate for the
//! detected ABI, so new rights are handled as the crate learns them.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use landlock::{ABI, Access, AccessFs, AccessNet, BitFlags, Scope};
use serde::Serialize;

use super::rootfs::{self as mounts, PathRule};
use crate::error::{Error, Result};
use crate::sys::{self, Errno, LandlockRulesetAttr};

/// What landlock features a profile insists on; missing ones make `build()` fail unless the
/// sandbox is in best-effort mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LandlockRequire {
    /// File-system restriction (ABI 1).
    pub fs: bool,
    /// TCP bind/connect restriction (ABI 4).
    pub net: bool,
    /// Abstract unix socket and signal scoping (ABI 6).
    pub scope: bool,
}

/// What landlock really enforces for a sandbox (part of the report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LandlockReport {
    /// ABI version of the running kernel (0: no landlock).
    pub abi: i32,
    /// File-system access is restricted to the sandbox's paths.
    pub fs: bool,
    /// TCP bind and connect are denied.
    pub net: bool,
    /// Abstract unix sockets and signals are scoped to the sandbox.
    pub scope: bool,
}

/// A prepared ruleset for the child.
#[derive(Debug)]
pub(crate) struct LandlockPlan {
    pub attr: LandlockRulesetAttr,
    pub attr_size: usize,
    pub rules: Vec<(CString, u64)>,
}

/// Child side: add every path rule of `plan` to `ruleset`. Each path is opened inside the
/// sandbox's root (`RESOLVE_IN_ROOT`) without following any symlink, so a symlink planted in a
/// read-write bind cannot widen a rule. Async-signal-safe; the error carries the rule's index.
pub(crate) fn add_rules(
    ruleset: std::os::fd::RawFd,
    plan: &LandlockPlan,
) -> Result<(), (Errno, u32)> {
    let root = sys::open(c"/", libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(|e| (e, 0))?;
    let mut result = Ok(());
    for (i, (path, access)) in plan.rules.iter().enumerate() {
        let r = sys::openat2(
            root,
            path,
            libc::O_PATH,
            sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS,
        )
        .and_then(|fd| {
            let r = sys::landlock_add_fd_rule(ruleset, fd, *access);
            sys::close(fd);
            r
        });
        if let Err(e) = r {
            result = Err((e, i as u32));
            break;
        }
    }
    sys::close(root);
    result
}

const FILE_RIGHTS: BitFlags<AccessFs> = landlock::make_bitflags!(AccessFs::{
    Execute | WriteFile | ReadFile | Truncate | IoctlDev
});

/// Compute the ruleset for `rules` on the running kernel.
///
/// `network` is true when the sandbox has a (loopback) network: TCP is then left alone.
pub(crate) fn plan(
    rules: &[PathRule],
    network: bool,
    require: LandlockRequire,
    best_effort: bool,
) -> Result<(Option<LandlockPlan>, LandlockReport)> {
    plan_for_abi(sys::landlock_abi(), rules, network, require, best_effort)
}

fn plan_for_abi(
    abi_nr: i32,
    rules: &[PathRule],
    network: bool,
    require: LandlockRequire,
    best_effort: bool,
) -> Result<(Option<LandlockPlan>, LandlockReport)> {
    let abi = ABI::from(abi_nr);
    let missing = |feature: &str, needed: i32| -> Result<()> {
        if best_effort {
            Ok(())
        } else {
            Err(Error::Unsupported {
                feature: format!("landlock {feature} (ABI {needed}; this kernel has ABI {abi_nr})"),
            })
        }
    };
    let mut report = LandlockReport {
        abi: abi_nr.max(0),
        ..Default::default()
    };
    if abi_nr < 1 {
        if require.fs || require.net || require.scope {
            missing("file-system rules", 1)?;
        }
        return Ok((None, report));
    }
    let all_fs = AccessFs::from_all(abi);
    let mut attr = LandlockRulesetAttr {
        handled_access_fs: all_fs.bits(),
        handled_access_net: 0,
        scoped: 0,
    };
    let mut attr_size = 8;
    report.fs = true;

    if abi_nr >= 4 {
        attr_size = 16;
        if !network {
            attr.handled_access_net = AccessNet::from_all(abi).bits();
            report.net = true;
        }
    } else if require.net && !network {
        missing("TCP rules", 4)?;
    }
    if abi_nr >= 6 {
        attr_size = 24;
        attr.scoped = Scope::from_all(abi).bits();
        report.scope = true;
    } else if require.scope {
        missing("scopes", 6)?;
    }

    let read = AccessFs::from_read(abi);
    // Read-only binds (the only `ReadExec` rules) also carry Truncate and IoctlDev. Landlock
    // checks those two "optional" rights on every open, so without them no rule on the path
    // satisfies the whole request and every open walks on past the bind to the sandbox's root
    // (an open+close under /usr: 1.37 us over bare, 0.93 us with them). They grant nothing
    // there: the bind is read-only (truncate(2) and O_TRUNC fail with EROFS before landlock is
    // asked, ftruncate needs a writable descriptor) and nodev (no device node opens, so no
    // device ioctl). A rule attaches to the inode, but every writable mount of the sandbox
    // (tmpfs, read-write bind) has an all-rights rule at its own root, so a path through one
    // was already granted both.
    let exec_read = read | ((AccessFs::Truncate | AccessFs::IoctlDev) & all_fs);
    let read_only = read & !AccessFs::Execute;
    let devices =
        (read_only | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev) & all_fs;
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let mut access = match r.access {
            mounts::Access::ReadExec => exec_read,
            mounts::Access::ReadWrite => all_fs,
            mounts::Access::Read => read_only,
            mounts::Access::Devices => devices,
            mounts::Access::ListDir => BitFlags::from(AccessFs::ReadDir),
        } & all_fs;
        if !r.is_dir {
            access &= FILE_RIGHTS;
        }
        if access.is_empty() {
            continue;
        }
        let path = CString::new(r.path.as_os_str().as_bytes())
            .map_err(|_| Error::config(format!("path contains NUL: {}", r.path.display())))?;
        out.push((path, access.bits()));
    }
    Ok((
        Some(LandlockPlan {
            attr,
            attr_size,
            rules: out,
        }),
        report,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rules() -> Vec<PathRule> {
        vec![
            PathRule {
                path: PathBuf::from("/usr"),
                is_dir: true,
                access: mounts::Access::ReadExec,
            },
            PathRule {
                path: PathBuf::from("/etc/ld.so.cache"),
                is_dir: false,
                access: mounts::Access::ReadExec,
            },
        ]
    }

    #[test]
    fn no_landlock_fails_closed_unless_best_effort() {
        let req = LandlockRequire {
            fs: true,
            ..Default::default()
        };
        assert!(matches!(
            plan_for_abi(0, &rules(), false, req, false),
            Err(Error::Unsupported { .. })
        ));
        let (p, r) = plan_for_abi(0, &rules(), false, req, true).unwrap();
        assert!(p.is_none());
        assert!(!r.fs);
    }

    #[test]
    fn net_and_scope_follow_abi() {
        let req = LandlockRequire {
            fs: true,
            ..Default::default()
        };
        let (_, r) = plan_for_abi(3, &rules(), false, req, false).unwrap();
        assert!(r.fs && !r.net && !r.scope);
        let (p, r) = plan_for_abi(6, &rules(), false, req, false).unwrap();
        assert!(r.fs && r.net && r.scope);
        let p = p.unwrap();
        assert_ne!(p.attr.handled_access_net, 0);
        let (_, r) = plan_for_abi(6, &rules(), true, req, false).unwrap();
        assert!(!r.net, "network enabled leaves TCP alone");
        let strict = LandlockRequire {
            fs: true,
            net: true,
            scope: true,
        };
        assert!(plan_for_abi(3, &rules(), false, strict, false).is_err());
    }

    #[test]
    fn read_only_binds_satisfy_the_optional_open_rights() {
        let mut rs = rules();
        rs.push(PathRule {
            path: PathBuf::from("/proc"),
            is_dir: true,
            access: mounts::Access::Read,
        });
        let optional = AccessFs::Truncate as u64 | AccessFs::IoctlDev as u64;
        let (p, _) = plan_for_abi(6, &rs, false, LandlockRequire::default(), false).unwrap();
        let p = p.unwrap();
        let access = |path: &str| {
            p.rules
                .iter()
                .find(|(c, _)| c.as_bytes() == path.as_bytes())
                .unwrap()
                .1
        };
        // Read-only binds (directory and file) carry both, so an open stops its walk there.
        assert_eq!(access("/usr") & optional, optional);
        assert_eq!(access("/etc/ld.so.cache") & optional, optional);
        // Never write or make rights; /proc (a writable mount with a read rule) gets neither.
        for path in ["/usr", "/etc/ld.so.cache", "/proc"] {
            let a = access(path);
            for right in [AccessFs::WriteFile, AccessFs::MakeReg, AccessFs::RemoveFile] {
                assert_eq!(a & right as u64, 0, "{path}");
            }
        }
        assert_eq!(access("/proc") & optional, 0);
        // An ABI without IoctlDev (4) or Truncate (2) is not asked for them.
        let (p, _) = plan_for_abi(2, &rs, false, LandlockRequire::default(), false).unwrap();
        let usr = p
            .unwrap()
            .rules
            .iter()
            .find(|(c, _)| c.as_bytes() == b"/usr")
            .unwrap()
            .1;
        assert_eq!(usr & optional, 0);
    }

    #[test]
    fn file_rules_only_carry_file_rights() {
        let (p, _) = plan_for_abi(5, &rules(), false, LandlockRequire::default(), false).unwrap();
        let p = p.unwrap();
        let file = p
            .rules
            .iter()
            .find(|(c, _)| c.as_bytes() == b"/etc/ld.so.cache")
            .unwrap();
        assert_eq!(file.1 & AccessFs::ReadDir as u64, 0);
        assert_ne!(file.1 & AccessFs::ReadFile as u64, 0);
    }
}
