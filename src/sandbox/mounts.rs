//! The mount plan: what the sandbox's root file system is made of.
//!
//! The parent turns the configured mounts into a flat list of [`Op`]s with every path already a
//! C string; the child walks the list with raw syscalls (see `child.rs`). The root is a fresh
//! tmpfs: the child mounts it over the host's `/tmp` in its private mount namespace, pivots into
//! it with the host root at [`OLD_ROOT`], builds everything from there, detaches the host root
//! and finally makes `/` read-only.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Where the host's root stays reachable while the sandbox root is built (inside the new root).
pub(crate) const OLD_ROOT: &str = "/.oldroot";
/// Existing host directory the new root tmpfs is first mounted on (it is moved by pivot_root).
pub(crate) const STAGING: &str = "/tmp";

/// Device nodes bound from the host into the minimal `/dev`.
pub(crate) const DEV_NODES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// `mount_setattr` attribute bits (uapi/linux/mount.h).
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// What a configured mount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host path, bound read-only (nosuid, nodev).
    RoBind,
    /// A host path, bound read-write (nosuid, nodev).
    Bind,
    /// A fresh tmpfs of this many bytes.
    Tmpfs { size: u64 },
}

/// One configured mount. `dst` is a path inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    pub src: PathBuf,
    pub dst: PathBuf,
    /// Skip the mount silently when the source does not exist on this host.
    pub optional: bool,
}

/// One prepared step of building the root, executed in order by the child.
#[derive(Debug)]
pub(crate) enum Op {
    Mkdir(CString),
    Touch(CString),
    Symlink {
        target: CString,
        path: CString,
    },
    Bind {
        src: CString,
        dst: CString,
    },
    SetAttr {
        path: CString,
        attrs: u64,
        recursive: bool,
    },
    Tmpfs {
        dst: CString,
        data: CString,
        flags: libc::c_ulong,
    },
    Proc {
        dst: CString,
    },
}

/// How landlock should treat a path of the finished root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read and execute (read-only binds).
    ReadExec,
    /// Everything (tmpfs, rw binds, the working directory).
    ReadWrite,
    /// Read only, no execute (/proc).
    Read,
    /// Device nodes: read, write, truncate, ioctl (/dev).
    Devices,
    /// Directory listing only (the root itself).
    ListDir,
}

/// A landlock rule candidate: a path inside the sandbox and what may be done beneath it.
#[derive(Debug, Clone)]
pub(crate) struct PathRule {
    pub path: PathBuf,
    pub is_dir: bool,
    pub access: Access,
}

/// The prepared root: ops for the child, a description per op for error messages, and the
/// landlock rule candidates.
#[derive(Debug)]
pub(crate) struct MountPlan {
    pub ops: Vec<Op>,
    pub what: Vec<String>,
    pub rules: Vec<PathRule>,
    /// The mounts that were really planned (optional ones whose source is missing are dropped).
    pub mounted: Vec<String>,
}

/// Options of the fixed part of the root.
pub(crate) struct FixedRoot<'a> {
    pub tmp_size: u64,
    pub dev_shm: bool,
    pub workdir: &'a Path,
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::config(format!("path contains a NUL byte: {}", p.display())))
}

/// Check that `p` is an absolute, normalised path inside the sandbox (no `..`, not `/`).
pub(crate) fn check_sandbox_path(p: &Path, what: &str) -> Result<()> {
    if !p.is_absolute() {
        return Err(Error::config(format!(
            "{what} must be an absolute path: {}",
            p.display()
        )));
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(Error::config(format!(
            "{what} must not contain . or ..: {}",
            p.display()
        )));
    }
    if p == Path::new("/") {
        return Err(Error::config(format!("{what} cannot be /")));
    }
    for reserved in ["/proc", "/dev", "/.oldroot"] {
        if p.starts_with(reserved) {
            return Err(Error::config(format!(
                "{what} {} is inside {reserved}, which the sandbox manages itself",
                p.display()
            )));
        }
    }
    Ok(())
}

struct Builder {
    ops: Vec<Op>,
    what: Vec<String>,
    dirs: BTreeSet<PathBuf>,
}

impl Builder {
    fn push(&mut self, op: Op, what: String) {
        self.ops.push(op);
        self.what.push(what);
    }

    /// Create `dir` and its missing ancestors on the root tmpfs.
    fn mkdir_p(&mut self, dir: &Path) -> Result<()> {
        let mut cur = PathBuf::from("/");
        for c in dir.components().skip(1) {
            cur.push(c);
            if self.dirs.insert(cur.clone()) {
                let c = cstr(&cur)?;
                self.push(Op::Mkdir(c), format!("mkdir {}", cur.display()));
            }
        }
        Ok(())
    }

    fn parent_of(&mut self, p: &Path) -> Result<()> {
        match p.parent() {
            Some(parent) if parent != Path::new("/") => self.mkdir_p(parent),
            _ => Ok(()),
        }
    }

    fn tmpfs(&mut self, dst: &Path, size: u64, mode: &str, flags: libc::c_ulong) -> Result<()> {
        self.mkdir_p(dst)?;
        let data = CString::new(format!("size={size},mode={mode}"))
            .map_err(|_| Error::config("tmpfs options"))?;
        self.push(
            Op::Tmpfs {
                dst: cstr(dst)?,
                data,
                flags,
            },
            format!("tmpfs {}", dst.display()),
        );
        Ok(())
    }
}

/// Build the mount plan from the configured mounts and the fixed parts of the root.
pub(crate) fn plan(mounts: &[Mount], fixed: &FixedRoot<'_>) -> Result<MountPlan> {
    let mut b = Builder {
        ops: Vec::new(),
        what: Vec::new(),
        dirs: BTreeSet::new(),
    };
    let mut rules = vec![PathRule {
        path: PathBuf::from("/"),
        is_dir: true,
        access: Access::ListDir,
    }];
    let mut mounted = Vec::new();

    // Parents before children: a mount at /a/b must come after the one at /a.
    let mut ordered: Vec<&Mount> = mounts.iter().collect();
    ordered.sort_by_key(|m| m.dst.components().count());

    let nosuid_nodev = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    for m in ordered {
        check_sandbox_path(&m.dst, "mount destination")?;
        match &m.kind {
            MountKind::Tmpfs { size } => {
                b.tmpfs(
                    &m.dst,
                    *size,
                    "1777",
                    (libc::MS_NOSUID | libc::MS_NODEV) as _,
                )?;
                rules.push(PathRule {
                    path: m.dst.clone(),
                    is_dir: true,
                    access: Access::ReadWrite,
                });
                mounted.push(format!("tmpfs:{}", m.dst.display()));
            }
            MountKind::RoBind | MountKind::Bind => {
                let ro = m.kind == MountKind::RoBind;
                let meta = match std::fs::symlink_metadata(&m.src) {
                    Ok(meta) => meta,
                    Err(e) if m.optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(Error::Path {
                            what: "bind source",
                            path: m.src.clone(),
                            source: e,
                        });
                    }
                };
                // A symlink bound onto its own path (usr-merged /bin -> usr/bin) is recreated as
                // the same symlink: binding it would resolve against the wrong root.
                if meta.file_type().is_symlink() && m.src == m.dst {
                    let target = std::fs::read_link(&m.src).map_err(|e| Error::Path {
                        what: "bind source",
                        path: m.src.clone(),
                        source: e,
                    })?;
                    b.parent_of(&m.dst)?;
                    b.push(
                        Op::Symlink {
                            target: cstr(&target)?,
                            path: cstr(&m.dst)?,
                        },
                        format!("symlink {} -> {}", m.dst.display(), target.display()),
                    );
                    mounted.push(format!("symlink:{}", m.dst.display()));
                    continue;
                }
                let src = std::fs::canonicalize(&m.src).map_err(|e| Error::Path {
                    what: "bind source",
                    path: m.src.clone(),
                    source: e,
                })?;
                let is_dir = std::fs::metadata(&src)
                    .map_err(|e| Error::Path {
                        what: "bind source",
                        path: m.src.clone(),
                        source: e,
                    })?
                    .is_dir();
                let dst = cstr(&m.dst)?;
                if is_dir {
                    b.mkdir_p(&m.dst)?;
                } else {
                    b.parent_of(&m.dst)?;
                    b.push(
                        Op::Touch(dst.clone()),
                        format!("create {}", m.dst.display()),
                    );
                }
                let host = Path::new(OLD_ROOT).join(src.strip_prefix("/").unwrap_or(&src));
                let desc = format!(
                    "{} {} -> {}",
                    if ro { "ro-bind" } else { "bind" },
                    src.display(),
                    m.dst.display()
                );
                b.push(
                    Op::Bind {
                        src: cstr(&host)?,
                        dst: dst.clone(),
                    },
                    desc.clone(),
                );
                let attrs = if ro {
                    nosuid_nodev | MOUNT_ATTR_RDONLY
                } else {
                    nosuid_nodev
                };
                b.push(
                    Op::SetAttr {
                        path: dst,
                        attrs,
                        recursive: true,
                    },
                    desc,
                );
                rules.push(PathRule {
                    path: m.dst.clone(),
                    is_dir,
                    access: if ro {
                        Access::ReadExec
                    } else {
                        Access::ReadWrite
                    },
                });
                mounted.push(format!(
                    "{}:{}:{}",
                    if ro { "ro" } else { "rw" },
                    src.display(),
                    m.dst.display()
                ));
            }
        }
    }

    // Fresh /proc for the new PID namespace.
    let proc_ = PathBuf::from("/proc");
    b.mkdir_p(&proc_)?;
    b.push(Op::Proc { dst: cstr(&proc_)? }, "proc /proc".into());
    rules.push(PathRule {
        path: proc_,
        is_dir: true,
        access: Access::Read,
    });

    // Minimal /dev: a small tmpfs with the harmless device nodes bound from the host.
    let dev = PathBuf::from("/dev");
    b.tmpfs(
        &dev,
        1 << 20,
        "0755",
        (libc::MS_NOSUID | libc::MS_NOEXEC) as _,
    )?;
    for node in DEV_NODES {
        let p = dev.join(node);
        let c = cstr(&p)?;
        b.push(Op::Touch(c.clone()), format!("create {}", p.display()));
        b.push(
            Op::Bind {
                src: cstr(&Path::new(OLD_ROOT).join("dev").join(node))?,
                dst: c.clone(),
            },
            format!("bind /dev/{node}"),
        );
        b.push(
            Op::SetAttr {
                path: c,
                attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                recursive: false,
            },
            format!("bind /dev/{node}"),
        );
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        b.push(
            Op::Symlink {
                target: cstr(Path::new(target))?,
                path: cstr(&dev.join(name))?,
            },
            format!("symlink /dev/{name}"),
        );
    }
    if fixed.dev_shm {
        b.tmpfs(
            &dev.join("shm"),
            fixed.tmp_size,
            "1777",
            (libc::MS_NOSUID | libc::MS_NODEV) as _,
        )?;
        rules.push(PathRule {
            path: dev.join("shm"),
            is_dir: true,
            access: Access::ReadWrite,
        });
    }
    rules.push(PathRule {
        path: dev.clone(),
        is_dir: true,
        access: Access::Devices,
    });
    // The /dev tmpfs itself is read-only once populated.
    b.push(
        Op::SetAttr {
            path: cstr(&dev)?,
            attrs: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
            recursive: false,
        },
        "read-only /dev".into(),
    );

    // Private, size-capped /tmp, unless the configuration mounts something there itself.
    let tmp = PathBuf::from("/tmp");
    if !mounts.iter().any(|m| m.dst == tmp) {
        b.tmpfs(
            &tmp,
            fixed.tmp_size,
            "1777",
            (libc::MS_NOSUID | libc::MS_NODEV) as _,
        )?;
        rules.push(PathRule {
            path: tmp.clone(),
            is_dir: true,
            access: Access::ReadWrite,
        });
    }

    // The working directory: writable. If no mount covers it, it gets a tmpfs of its own.
    check_sandbox_path(fixed.workdir, "working directory")?;
    let covered =
        fixed.workdir.starts_with(&tmp) || mounts.iter().any(|m| fixed.workdir.starts_with(&m.dst));
    if !covered {
        b.tmpfs(
            fixed.workdir,
            fixed.tmp_size,
            "1777",
            (libc::MS_NOSUID | libc::MS_NODEV) as _,
        )?;
        rules.push(PathRule {
            path: fixed.workdir.to_path_buf(),
            is_dir: true,
            access: Access::ReadWrite,
        });
    }

    Ok(MountPlan {
        ops: b.ops,
        what: b.what,
        rules,
        mounted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_destinations() {
        for p in [
            "relative",
            "/",
            "/a/../b",
            "/proc/x",
            "/dev/null",
            "/.oldroot/a",
        ] {
            assert!(check_sandbox_path(Path::new(p), "x").is_err(), "{p}");
        }
        assert!(check_sandbox_path(Path::new("/inputs"), "x").is_ok());
    }

    #[test]
    fn plan_creates_parents_once_and_orders_by_depth() {
        let mounts = vec![
            Mount {
                kind: MountKind::Tmpfs { size: 1 << 20 },
                src: PathBuf::new(),
                dst: PathBuf::from("/a/b/c"),
                optional: false,
            },
            Mount {
                kind: MountKind::RoBind,
                src: PathBuf::from("/usr"),
                dst: PathBuf::from("/a"),
                optional: false,
            },
        ];
        let p = plan(
            &mounts,
            &FixedRoot {
                tmp_size: 1 << 20,
                dev_shm: false,
                workdir: Path::new("/tmp"),
            },
        )
        .unwrap();
        let first_bind = p
            .ops
            .iter()
            .position(|o| matches!(o, Op::Bind { .. }))
            .unwrap();
        let first_tmpfs = p
            .ops
            .iter()
            .position(|o| matches!(o, Op::Tmpfs { .. }))
            .unwrap();
        assert!(first_bind < first_tmpfs, "parent mount must come first");
        let mkdirs: Vec<_> = p
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Mkdir(c) => Some(c.to_str().unwrap().to_string()),
                _ => None,
            })
            .collect();
        let unique: BTreeSet<_> = mkdirs.iter().collect();
        assert_eq!(unique.len(), mkdirs.len());
    }

    #[test]
    fn missing_source_is_an_error_unless_optional() {
        let mut m = Mount {
            kind: MountKind::RoBind,
            src: PathBuf::from("/definitely/not/here"),
            dst: PathBuf::from("/x"),
            optional: false,
        };
        let fixed = FixedRoot {
            tmp_size: 1 << 20,
            dev_shm: false,
            workdir: Path::new("/tmp"),
        };
        assert!(matches!(
            plan(std::slice::from_ref(&m), &fixed),
            Err(Error::Path { .. })
        ));
        m.optional = true;
        assert!(plan(&[m], &fixed).is_ok());
    }
}
