//! The root plan: one ordered list of everything the sandbox's root is made of.
//!
//! The fixed parts (`/` itself, `/proc`, `/dev`, `/tmp`, the working directory, generated
//! identity files) and the configured mounts go into one set of *layers*, each identified by its
//! destination. Every destination is checked against the layer it lands on (the deepest other
//! layer above it):
//!
//! - on one of runcell's own tmpfs layers, the mount point is created by the child;
//! - inside a bind, the mount point must already exist in the bind's source (a directory for a
//!   directory or tmpfs, a file for a file), reached without a symlink: runcell never creates
//!   anything inside a bind, so a bind's content on the host is never changed by setup;
//! - below a file, a symlink or `/proc`, it is refused.
//!
//! Layers are then emitted parent before child, so nothing is hidden by a later mount, and the
//! read-only attributes of runcell's own layers (`/dev`, `/`) are applied last. Bind sources are
//! canonicalised here, once; the child opens them again without following any symlink, so a
//! symlink planted later (by an earlier run with a read-write bind) fails the run instead of
//! exposing something else.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// `mount_setattr` / `fsmount` attribute bits (uapi/linux/mount.h).
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Device nodes bound from the host into the minimal `/dev`.
pub(crate) const DEV_NODES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// Size of the private `/dev` tmpfs (it only holds mount points and symlinks).
const DEV_SIZE: u64 = 64 << 10;

/// What a configured mount is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A host path, bound read-only (nosuid, nodev).
    RoBind,
    /// A host path, bound read-write (nosuid, nodev).
    Bind,
    /// A fresh tmpfs of this many bytes.
    Tmpfs {
        /// Size cap in bytes.
        size: u64,
    },
}

/// One configured mount. `dst` is a path inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// What is mounted.
    pub kind: MountKind,
    /// The host path (binds); empty for a tmpfs.
    pub src: PathBuf,
    /// Where it appears inside the sandbox.
    pub dst: PathBuf,
    /// Skip the mount silently when the source does not exist on this host.
    pub optional: bool,
}

/// How landlock should treat a path of the finished root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read and execute (read-only binds).
    ReadExec,
    /// Everything (tmpfs, rw binds, the working directory).
    ReadWrite,
    /// Read only, no execute (/proc, generated files).
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

/// A bind source, opened by the child before it gives up the caller's credentials.
#[derive(Debug)]
pub(crate) struct Source {
    /// Canonical host path (no symlink in it when the plan was built).
    pub path: CString,
    /// Attributes set recursively on the detached copy before it is attached.
    pub attrs: u64,
    /// For error messages.
    pub what: String,
}

/// One filesystem option of a fresh mount (`fsconfig`): a key and an optional string value.
#[derive(Debug)]
pub(crate) struct FsOption {
    pub key: CString,
    pub value: Option<CString>,
}

/// One step of assembling the root, executed in order by the child inside the new root.
/// Every path is absolute inside the new root and resolved there without following symlinks.
#[derive(Debug)]
pub(crate) enum RootStep {
    /// Create directory `name` in `parent` (always on one of runcell's tmpfs layers).
    Mkdir { parent: CString, name: CString },
    /// Create an empty file (a mount point for a file bind) on a runcell tmpfs layer.
    Touch { parent: CString, name: CString },
    /// Create a symlink on a runcell tmpfs layer.
    Symlink {
        parent: CString,
        name: CString,
        target: CString,
    },
    /// Create a file with prepared content on a runcell tmpfs layer.
    WriteFile {
        parent: CString,
        name: CString,
        content: Vec<u8>,
    },
    /// Attach the detached tree of source `source` at `dst`.
    Attach {
        source: usize,
        dst: CString,
        dir: bool,
    },
    /// Create a fresh file system (`fsopen`/`fsmount`) and attach it at `dst`.
    Fresh {
        fstype: CString,
        options: Vec<FsOption>,
        attrs: u64,
        dst: CString,
        /// Created before the host's root is detached (procfs: the kernel requires a fully
        /// visible procfs in the namespace to create one). At most one step has it.
        early: bool,
    },
    /// Add attributes to the mount at `dst` (not recursive).
    SetAttr { dst: CString, attrs: u64 },
}

/// The prepared root of a sandbox.
#[derive(Debug)]
pub(crate) struct RootPlan {
    /// Bind sources, one scratch descriptor slot each (the order of [`RootStep::Attach`]).
    pub sources: Vec<Source>,
    /// The steps the child runs after the id switch.
    pub steps: Vec<RootStep>,
    /// What each step does, for error messages (same index as `steps`).
    pub what: Vec<String>,
    /// Landlock rule candidates.
    pub rules: Vec<PathRule>,
    /// What is really attached, in order: `ro:SRC:DST`, `rw:SRC:DST`, `tmpfs:DST`,
    /// `symlink:DST`, `file:DST` (generated), `devpts:DST`.
    pub mounted: Vec<String>,
    /// The working directory (exists once the steps ran).
    pub workdir: CString,
    /// Which steps a run makes itself when it starts from the template mount namespace (see
    /// `template`): `per_run[i]` for the steps on or below a writable or per-run layer
    /// (`/proc`, `/tmp`, `/dev/shm`, `/dev/pts`, a tmpfs, the working directory's tmpfs), the
    /// others being the template's. `None`: the plan cannot use a template (a read-write bind,
    /// or a bind below a per-run layer, whose source only the host's namespace reaches).
    pub per_run: Option<Vec<bool>>,
    /// The template mount namespace of this plan, made by its first run on a root host.
    pub template: super::template::Slot,
    /// What the plan was built from (for [`RootPlan::with_extra`]).
    #[cfg_attr(not(test), allow(dead_code))]
    mounts: Vec<Mount>,
    #[cfg_attr(not(test), allow(dead_code))]
    fixed: FixedRoot,
}

/// Options of the fixed part of the root.
#[derive(Debug, Clone)]
pub(crate) struct FixedRoot {
    /// Size of the private `/tmp` and of the working directory's tmpfs.
    pub tmp_size: u64,
    /// A private `/dev/shm` of this many bytes.
    pub dev_shm: Option<u64>,
    /// A new devpts instance at `/dev/pts` and `/dev/ptmx`.
    pub devpts: bool,
    /// The working directory.
    pub workdir: PathBuf,
    /// Generated files (content prepared here), created on runcell's own tmpfs layers unless a
    /// configured mount provides the same path.
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::config(format!("path contains a NUL byte: {}", p.display())))
}

fn cs(s: &str) -> CString {
    // Only called with literals and formatted numbers, which hold no NUL.
    CString::new(s).unwrap_or_default()
}

/// Check that `p` is an absolute, normalised path inside the sandbox (no `..`, not `/`, not in
/// the parts runcell manages itself).
pub(crate) fn check_sandbox_path(p: &Path, what: &str) -> Result<()> {
    if !p.is_absolute() {
        return Err(Error::config(format!(
            "{what} must be an absolute path: {}",
            p.display()
        )));
    }
    if p.components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || p.as_os_str().as_bytes().windows(2).any(|w| w == b"//")
        || (p.as_os_str().len() > 1 && p.as_os_str().as_bytes().ends_with(b"/"))
    {
        return Err(Error::config(format!(
            "{what} must be a normalised path (no ., .., // or trailing /): {}",
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

/// The identity files every sandbox gets: `/etc/hosts` (localhost and the hostname),
/// `/etc/nsswitch.conf` (files only), `/etc/passwd` and `/etc/group` (root, the sandbox user,
/// nobody).
pub(crate) fn identity_files(
    hostname: &str,
    uid: u32,
    gid: u32,
    home: &Path,
) -> Vec<(PathBuf, Vec<u8>)> {
    const USER: &str = "sandbox";
    let home = home.to_string_lossy().replace([':', '\n'], "_");
    let mut passwd = String::from("root:x:0:0:root:/root:/usr/sbin/nologin\n");
    let mut group = String::from("root:x:0:\n");
    passwd.push_str(&format!("{USER}:x:{uid}:{gid}:{USER}:{home}:/bin/sh\n"));
    group.push_str(&format!("{USER}:x:{gid}:\n"));
    if uid != 65534 {
        passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    }
    if gid != 65534 {
        group.push_str("nogroup:x:65534:\n");
    }
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    let nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files\n\
                    networks: files\nprotocols: files\nservices: files\nethers: files\n\
                    rpc: files\nnetgroup: files\n";
    vec![
        (PathBuf::from("/etc/hosts"), hosts.into_bytes()),
        (
            PathBuf::from("/etc/nsswitch.conf"),
            nsswitch.as_bytes().to_vec(),
        ),
        (PathBuf::from("/etc/passwd"), passwd.into_bytes()),
        (PathBuf::from("/etc/group"), group.into_bytes()),
    ]
}

/// Canonicalise a bind source like `realpath`, following a symlink on the way only when root
/// owns it. A symlink owned by anyone else may have been planted by a sandbox (through a
/// read-write bind, files are created as the sandbox's host uid, or as the caller's own uid for
/// an unprivileged host), and following it would bind something that was never configured.
fn resolve_source(src: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let io = |path: &Path, e: std::io::Error| Error::Path {
        what: "bind source",
        path: path.to_path_buf(),
        source: e,
    };
    let start = if src.is_absolute() {
        src.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| io(src, e))?.join(src)
    };
    let mut todo: Vec<std::ffi::OsString> = start
        .components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut out = PathBuf::from("/");
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            out.pop();
            continue;
        }
        let next = out.join(&c);
        let meta = std::fs::symlink_metadata(&next).map_err(|e| io(&next, e))?;
        if !meta.file_type().is_symlink() {
            out = next;
            continue;
        }
        hops += 1;
        if meta.uid() != 0 || hops > 40 {
            return Err(Error::config(format!(
                "bind source {} goes through the symlink {} (owned by uid {}): only symlinks \
                 owned by root are followed in a bind source; give the resolved path",
                src.display(),
                next.display(),
                meta.uid()
            )));
        }
        let target = std::fs::read_link(&next).map_err(|e| io(&next, e))?;
        if target.is_absolute() {
            out = PathBuf::from("/");
        }
        for t in target.components().rev() {
            match t {
                Component::Normal(n) => todo.push(n.to_os_string()),
                Component::ParentDir => todo.push("..".into()),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// What occupies a destination.
#[derive(Debug, Clone)]
enum Layer {
    /// runcell's own tmpfs (or the root): mount points are created on it.
    Tmpfs {
        size: u64,
        mode: &'static str,
        dev: bool,
        user: bool,
    },
    /// A bind of a host path (canonical `src`).
    Bind {
        src: PathBuf,
        dir: bool,
        ro: bool,
        dev_node: bool,
    },
    /// A symlink recreated on a tmpfs layer (usr-merged `/bin -> usr/bin`).
    Symlink { target: PathBuf },
    /// A fresh procfs.
    Proc,
    /// A fresh devpts instance.
    Devpts,
    /// A generated file.
    File { content: Vec<u8> },
    /// A directory created on a tmpfs layer, or required to exist inside a bind (the workdir).
    Dir,
}

impl RootPlan {
    /// Build the plan from the configured mounts and the fixed parts of the root.
    pub(crate) fn build(mounts: &[Mount], fixed: &FixedRoot) -> Result<RootPlan> {
        Builder::default().run(mounts, fixed)
    }

    /// This plan with `extra` mounts on top (per-run inputs or a work directory), validated
    /// exactly as [`RootPlan::build`] validates: a destination used twice is an error.
    // Used by per-run binds (issue 10 item 3), which land on the lead's branch.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_extra(&self, extra: &[Mount]) -> Result<RootPlan> {
        let mut all = self.mounts.clone();
        all.extend_from_slice(extra);
        RootPlan::build(&all, &self.fixed)
    }

    /// Describe a failed step of the child: `index` into the steps ([`Step::Mount`]) or into
    /// the sources ([`Step::BindSource`]).
    ///
    /// [`Step::Mount`]: crate::sandbox::child::Step::Mount
    /// [`Step::BindSource`]: crate::sandbox::child::Step::BindSource
    pub(crate) fn describe(&self, source: bool, index: u32) -> Option<String> {
        if source {
            self.sources.get(index as usize).map(|s| s.what.clone())
        } else {
            self.what.get(index as usize).cloned()
        }
    }
}

#[derive(Default)]
struct Builder {
    sources: Vec<Source>,
    steps: Vec<RootStep>,
    what: Vec<String>,
    rules: Vec<PathRule>,
    mounted: Vec<String>,
    layers: BTreeMap<PathBuf, Layer>,
    created: BTreeSet<PathBuf>,
    /// Destinations of the layers every run makes itself (see [`RootPlan::per_run`]).
    per_run_roots: Vec<Vec<u8>>,
    /// A read-write bind: no template (its tree would be writable from every run).
    no_template: bool,
}

fn split(p: &Path) -> Result<(CString, CString)> {
    let parent = p.parent().unwrap_or(Path::new("/"));
    let name = p
        .file_name()
        .ok_or_else(|| Error::config(format!("no file name in {}", p.display())))?;
    Ok((cstr(parent)?, cstr(Path::new(name))?))
}

fn tmpfs_options(size: u64, mode: &str) -> Vec<FsOption> {
    vec![
        FsOption {
            key: cs("size"),
            value: Some(cs(&size.to_string())),
        },
        FsOption {
            key: cs("mode"),
            value: Some(cs(mode)),
        },
    ]
}

/// `path` is `root` or below it.
fn at_or_below(path: &[u8], root: &[u8]) -> bool {
    path.starts_with(root) && (path.len() == root.len() || path[root.len()] == b'/')
}

impl Builder {
    /// Which steps are per run (see [`RootPlan::per_run`]), or `None` when the plan cannot
    /// use a template.
    fn split(&self) -> Option<Vec<bool>> {
        if self.no_template {
            return None;
        }
        let below = |p: &[u8]| {
            self.per_run_roots
                .iter()
                .any(|r| p.len() > r.len() && at_or_below(p, r))
        };
        let on = |p: &[u8]| self.per_run_roots.iter().any(|r| at_or_below(p, r));
        let mut mask = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let per_run = match step {
                RootStep::Mkdir { parent, name }
                | RootStep::Touch { parent, name }
                | RootStep::Symlink { parent, name, .. }
                | RootStep::WriteFile { parent, name, .. } => {
                    let mut full = parent.to_bytes().to_vec();
                    if full != b"/" {
                        full.push(b'/');
                    }
                    full.extend_from_slice(name.to_bytes());
                    // A mount point of a per-run layer is the template's; what is created on
                    // that layer is the run's.
                    below(&full)
                }
                RootStep::Fresh { dst, .. } | RootStep::SetAttr { dst, .. } => on(dst.to_bytes()),
                RootStep::Attach { dst, .. } => {
                    if on(dst.to_bytes()) {
                        // Its source is a host path, which the template's copy cannot reach.
                        return None;
                    }
                    false
                }
            };
            mask.push(per_run);
        }
        Some(mask)
    }

    fn push(&mut self, step: RootStep, what: String) {
        self.steps.push(step);
        self.what.push(what);
    }

    /// The deepest layer strictly above `p` (the root tmpfs when none).
    fn ancestor(&self, p: &Path) -> (PathBuf, Layer) {
        let mut cur = p.parent();
        while let Some(a) = cur {
            if a == Path::new("/") {
                break;
            }
            // A plain directory (the workdir) is not a layer of its own: what holds it is.
            if let Some(l) = self.layers.get(a)
                && !matches!(l, Layer::Dir)
            {
                return (a.to_path_buf(), l.clone());
            }
            cur = a.parent();
        }
        (
            PathBuf::from("/"),
            Layer::Tmpfs {
                size: 0,
                mode: "0755",
                dev: false,
                user: false,
            },
        )
    }

    /// Make sure `p` can be used as a mount point / created entry: returns whether it must be
    /// created (on a tmpfs layer; its parents are created here) or already exists (in a bind).
    fn prepare(&mut self, p: &Path, want_dir: bool) -> Result<bool> {
        let (anc, layer) = self.ancestor(p);
        match layer {
            Layer::Tmpfs { .. } => {
                // Parents between the layer and p.
                let mut missing = Vec::new();
                let mut cur = p.parent();
                while let Some(d) = cur {
                    if d == anc || d == Path::new("/") {
                        break;
                    }
                    missing.push(d.to_path_buf());
                    cur = d.parent();
                }
                for d in missing.into_iter().rev() {
                    if self.created.insert(d.clone()) {
                        let (parent, name) = split(&d)?;
                        self.push(
                            RootStep::Mkdir { parent, name },
                            format!("create directory {}", d.display()),
                        );
                    }
                }
                Ok(true)
            }
            Layer::Bind { src, dir: true, .. } => {
                let rel = p.strip_prefix(&anc).unwrap_or(p);
                let mut host = src.clone();
                let n = rel.components().count();
                for (i, c) in rel.components().enumerate() {
                    host.push(c);
                    let last = i + 1 == n;
                    let meta = std::fs::symlink_metadata(&host).map_err(|e| Error::Path {
                        what: "mount point inside a bind (runcell creates nothing inside a bind; \
                               it must exist in the bind's source)",
                        path: host.clone(),
                        source: e,
                    })?;
                    let ok = if meta.file_type().is_symlink() {
                        false
                    } else if !last {
                        meta.is_dir()
                    } else {
                        meta.is_dir() == want_dir
                    };
                    if !ok {
                        return Err(Error::config(format!(
                            "{} cannot be a mount point: {} inside the bind at {} is {} \
                             (runcell creates nothing inside a bind and follows no symlink there)",
                            p.display(),
                            host.display(),
                            anc.display(),
                            if meta.file_type().is_symlink() {
                                "a symlink"
                            } else if meta.is_dir() {
                                "a directory"
                            } else {
                                "not a directory"
                            }
                        )));
                    }
                }
                Ok(false)
            }
            Layer::Bind { .. } | Layer::File { .. } => Err(Error::config(format!(
                "{} is below {}, which is a file",
                p.display(),
                anc.display()
            ))),
            Layer::Symlink { .. } => Err(Error::config(format!(
                "{} is below {}, which is a symlink",
                p.display(),
                anc.display()
            ))),
            Layer::Proc | Layer::Devpts | Layer::Dir => Err(Error::config(format!(
                "{} is below {}, which the sandbox manages itself",
                p.display(),
                anc.display()
            ))),
        }
    }

    fn mountpoint(&mut self, p: &Path, dir: bool) -> Result<()> {
        if self.prepare(p, dir)? && self.created.insert(p.to_path_buf()) {
            let (parent, name) = split(p)?;
            if dir {
                self.push(
                    RootStep::Mkdir { parent, name },
                    format!("create directory {}", p.display()),
                );
            } else {
                self.push(
                    RootStep::Touch { parent, name },
                    format!("create mount point {}", p.display()),
                );
            }
        }
        Ok(())
    }

    fn add_layer(&mut self, dst: &Path, layer: Layer) -> Result<()> {
        if self.layers.contains_key(dst) {
            return Err(Error::config(format!(
                "two mounts at {}: each destination may be used once",
                dst.display()
            )));
        }
        self.layers.insert(dst.to_path_buf(), layer);
        Ok(())
    }

    fn run(mut self, mounts: &[Mount], fixed: &FixedRoot) -> Result<RootPlan> {
        check_sandbox_path(&fixed.workdir, "working directory")?;
        let workdir = cstr(&fixed.workdir)?;
        // 1. Every layer, validated on its own.
        for m in mounts {
            check_sandbox_path(&m.dst, "mount destination")?;
            let layer = match &m.kind {
                MountKind::Tmpfs { size } => {
                    if !(4096..=64 << 30).contains(size) {
                        return Err(Error::config(format!(
                            "tmpfs {} size must be between 4 KiB and 64 GiB",
                            m.dst.display()
                        )));
                    }
                    Layer::Tmpfs {
                        size: *size,
                        mode: "1777",
                        dev: false,
                        user: true,
                    }
                }
                MountKind::RoBind | MountKind::Bind => {
                    let ro = m.kind == MountKind::RoBind;
                    let meta = match std::fs::symlink_metadata(&m.src) {
                        Ok(meta) => meta,
                        Err(e) if m.optional && e.kind() == std::io::ErrorKind::NotFound => {
                            continue;
                        }
                        Err(e) => {
                            return Err(Error::Path {
                                what: "bind source",
                                path: m.src.clone(),
                                source: e,
                            });
                        }
                    };
                    if meta.file_type().is_symlink() && m.src == m.dst {
                        // usr-merged /bin -> usr/bin: recreated as the same symlink (binding it
                        // would resolve against the wrong root).
                        let target = std::fs::read_link(&m.src).map_err(|e| Error::Path {
                            what: "bind source",
                            path: m.src.clone(),
                            source: e,
                        })?;
                        Layer::Symlink { target }
                    } else {
                        let src = resolve_source(&m.src)?;
                        let meta = std::fs::metadata(&src).map_err(|e| Error::Path {
                            what: "bind source",
                            path: m.src.clone(),
                            source: e,
                        })?;
                        Layer::Bind {
                            src,
                            dir: meta.is_dir(),
                            ro,
                            dev_node: false,
                        }
                    }
                }
            };
            self.add_layer(&m.dst, layer)?;
        }
        // 2. The fixed layers (a configured mount at /tmp or at the workdir replaces runcell's).
        self.layers.insert(PathBuf::from("/proc"), Layer::Proc);
        self.layers.insert(
            PathBuf::from("/dev"),
            Layer::Tmpfs {
                size: DEV_SIZE,
                mode: "0755",
                dev: true,
                user: false,
            },
        );
        for node in DEV_NODES {
            self.layers.insert(
                Path::new("/dev").join(node),
                Layer::Bind {
                    src: Path::new("/dev").join(node),
                    dir: false,
                    ro: false,
                    dev_node: true,
                },
            );
        }
        for (name, target) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            self.layers.insert(
                Path::new("/dev").join(name),
                Layer::Symlink {
                    target: PathBuf::from(target),
                },
            );
        }
        if let Some(size) = fixed.dev_shm {
            self.layers.insert(
                PathBuf::from("/dev/shm"),
                Layer::Tmpfs {
                    size,
                    mode: "1777",
                    dev: false,
                    user: false,
                },
            );
        }
        if fixed.devpts {
            self.layers.insert(PathBuf::from("/dev/pts"), Layer::Devpts);
            self.layers.insert(
                PathBuf::from("/dev/ptmx"),
                Layer::Symlink {
                    target: PathBuf::from("pts/ptmx"),
                },
            );
        }
        self.layers
            .entry(PathBuf::from("/tmp"))
            .or_insert(Layer::Tmpfs {
                size: fixed.tmp_size,
                mode: "1777",
                dev: false,
                user: false,
            });
        if !self.layers.contains_key(&fixed.workdir) {
            let (holder, _) = self.ancestor(&fixed.workdir);
            let layer = match holder.as_os_str().as_bytes() {
                // Directly on the read-only root: a tmpfs of its own, so it is writable.
                b"/" => Layer::Tmpfs {
                    size: fixed.tmp_size,
                    mode: "1777",
                    dev: false,
                    user: false,
                },
                _ => Layer::Dir,
            };
            self.layers.insert(fixed.workdir.clone(), layer);
        }
        for (path, content) in &fixed.files {
            if self.layers.contains_key(path) {
                continue;
            }
            match self.ancestor(path).1 {
                Layer::Tmpfs { .. } => {
                    self.layers.insert(
                        path.clone(),
                        Layer::File {
                            content: content.clone(),
                        },
                    );
                }
                // Inside a configured bind (the host's /etc): the host's file is what the
                // configuration asked for.
                _ => continue,
            }
        }

        // 3. Emit parent before child (by depth, then by path: deterministic).
        let mut order: Vec<(PathBuf, Layer)> = self
            .layers
            .iter()
            .map(|(p, l)| (p.clone(), l.clone()))
            .collect();
        order.sort_by(|a, b| {
            a.0.components()
                .count()
                .cmp(&b.0.components().count())
                .then_with(|| a.0.cmp(&b.0))
        });
        let mut finish = Vec::new();
        for (dst, layer) in order {
            self.emit(&dst, &layer, &mut finish)?;
        }
        // 4. Read-only last, once everything nested exists.
        for (dst, attrs, what) in finish {
            self.push(RootStep::SetAttr { dst, attrs }, what);
        }
        self.push(
            RootStep::SetAttr {
                dst: cs("/"),
                attrs: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            },
            "read-only /".into(),
        );
        let mut rules = vec![PathRule {
            path: PathBuf::from("/"),
            is_dir: true,
            access: Access::ListDir,
        }];
        rules.append(&mut self.rules);
        let per_run = self.split();
        Ok(RootPlan {
            sources: self.sources,
            steps: self.steps,
            what: self.what,
            rules,
            mounted: self.mounted,
            workdir,
            per_run,
            template: Default::default(),
            mounts: mounts.to_vec(),
            fixed: fixed.clone(),
        })
    }

    fn emit(
        &mut self,
        dst: &Path,
        layer: &Layer,
        finish: &mut Vec<(CString, u64, String)>,
    ) -> Result<()> {
        let c = cstr(dst)?;
        match layer {
            Layer::Tmpfs {
                size,
                mode,
                dev,
                user,
            } => {
                self.mountpoint(dst, true)?;
                if !*dev {
                    self.per_run_roots.push(c.to_bytes().to_vec());
                }
                let (attrs, access) = if *dev {
                    (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, Access::Devices)
                } else {
                    (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, Access::ReadWrite)
                };
                self.push(
                    RootStep::Fresh {
                        fstype: cs("tmpfs"),
                        options: tmpfs_options(*size, mode),
                        attrs,
                        dst: c.clone(),
                        early: false,
                    },
                    format!("tmpfs {}", dst.display()),
                );
                if *dev {
                    finish.push((
                        c,
                        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                        "read-only /dev".into(),
                    ));
                }
                self.rules.push(PathRule {
                    path: dst.to_path_buf(),
                    is_dir: true,
                    access,
                });
                if *user {
                    self.mounted.push(format!("tmpfs:{}", dst.display()));
                }
            }
            Layer::Bind {
                src,
                dir,
                ro,
                dev_node,
            } => {
                self.mountpoint(dst, *dir)?;
                if !*ro && !*dev_node {
                    self.no_template = true;
                }
                let attrs = if *dev_node {
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC
                } else if *ro {
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                } else {
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
                };
                let desc = format!(
                    "{} {} -> {}",
                    if *ro { "ro-bind" } else { "bind" },
                    src.display(),
                    dst.display()
                );
                self.sources.push(Source {
                    path: cstr(src)?,
                    attrs,
                    what: desc.clone(),
                });
                self.push(
                    RootStep::Attach {
                        source: self.sources.len() - 1,
                        dst: c,
                        dir: *dir,
                    },
                    desc,
                );
                if !*dev_node {
                    self.rules.push(PathRule {
                        path: dst.to_path_buf(),
                        is_dir: *dir,
                        access: if *ro {
                            Access::ReadExec
                        } else {
                            Access::ReadWrite
                        },
                    });
                    self.mounted.push(format!(
                        "{}:{}:{}",
                        if *ro { "ro" } else { "rw" },
                        src.display(),
                        dst.display()
                    ));
                }
            }
            Layer::Symlink { target } => {
                if !self.prepare(dst, false)? {
                    return Err(Error::config(format!(
                        "symlink {} would be created inside a bind",
                        dst.display()
                    )));
                }
                let (parent, name) = split(dst)?;
                self.push(
                    RootStep::Symlink {
                        parent,
                        name,
                        target: cstr(target)?,
                    },
                    format!("symlink {} -> {}", dst.display(), target.display()),
                );
                if !dst.starts_with("/dev") {
                    self.mounted.push(format!("symlink:{}", dst.display()));
                }
            }
            Layer::Proc => {
                self.mountpoint(dst, true)?;
                self.per_run_roots.push(c.to_bytes().to_vec());
                self.push(
                    RootStep::Fresh {
                        fstype: cs("proc"),
                        options: Vec::new(),
                        attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
                        dst: c,
                        early: true,
                    },
                    "proc /proc".into(),
                );
                self.rules.push(PathRule {
                    path: dst.to_path_buf(),
                    is_dir: true,
                    access: Access::Read,
                });
            }
            Layer::Devpts => {
                self.mountpoint(dst, true)?;
                self.per_run_roots.push(c.to_bytes().to_vec());
                self.push(
                    RootStep::Fresh {
                        fstype: cs("devpts"),
                        options: vec![
                            FsOption {
                                key: cs("newinstance"),
                                value: None,
                            },
                            FsOption {
                                key: cs("ptmxmode"),
                                value: Some(cs("0666")),
                            },
                            FsOption {
                                key: cs("mode"),
                                value: Some(cs("0620")),
                            },
                        ],
                        attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                        dst: c,
                        early: false,
                    },
                    "devpts /dev/pts".into(),
                );
                self.mounted.push(format!("devpts:{}", dst.display()));
            }
            Layer::File { content } => {
                if !self.prepare(dst, false)? {
                    return Ok(());
                }
                let (parent, name) = split(dst)?;
                self.push(
                    RootStep::WriteFile {
                        parent,
                        name,
                        content: content.clone(),
                    },
                    format!("write {}", dst.display()),
                );
                self.rules.push(PathRule {
                    path: dst.to_path_buf(),
                    is_dir: false,
                    access: Access::Read,
                });
                self.mounted.push(format!("file:{}", dst.display()));
            }
            Layer::Dir => {
                self.mountpoint(dst, true)?;
            }
        }
        Ok(())
    }
}

/// The mount points of a plan, in order (for tests).
#[cfg(test)]
fn mount_points(plan: &RootPlan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            RootStep::Attach { dst, .. } | RootStep::Fresh { dst, .. } => {
                Some(dst.to_string_lossy().into_owned())
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(workdir: &str) -> FixedRoot {
        FixedRoot {
            tmp_size: 1 << 20,
            dev_shm: None,
            devpts: false,
            workdir: PathBuf::from(workdir),
            files: identity_files("box", 1000, 1000, Path::new("/tmp")),
        }
    }

    fn tmpfs(dst: &str) -> Mount {
        Mount {
            kind: MountKind::Tmpfs { size: 1 << 20 },
            src: PathBuf::new(),
            dst: PathBuf::from(dst),
            optional: false,
        }
    }

    fn ro(src: &Path, dst: &str) -> Mount {
        Mount {
            kind: MountKind::RoBind,
            src: src.to_path_buf(),
            dst: PathBuf::from(dst),
            optional: false,
        }
    }

    #[test]
    fn rejects_bad_destinations() {
        for p in [
            "relative",
            "/",
            "/a/../b",
            "/a//b",
            "/a/",
            "/proc/x",
            "/dev/null",
            "/.oldroot/a",
        ] {
            assert!(check_sandbox_path(Path::new(p), "x").is_err(), "{p}");
        }
        assert!(check_sandbox_path(Path::new("/inputs"), "x").is_ok());
    }

    #[test]
    fn parents_come_first_and_fixed_tmp_does_not_hide_user_mounts() {
        let p = RootPlan::build(
            &[tmpfs("/tmp/a/b"), ro(Path::new("/usr"), "/usr")],
            &fixed("/tmp/work"),
        )
        .unwrap();
        let points = mount_points(&p);
        let tmp = points.iter().position(|d| d == "/tmp").unwrap();
        let nested = points.iter().position(|d| d == "/tmp/a/b").unwrap();
        assert!(tmp < nested, "{points:?}");
        // The workdir under /tmp is a directory on the /tmp tmpfs, created after it.
        let mkdir = p
            .what
            .iter()
            .position(|w| w == "create directory /tmp/work")
            .unwrap();
        assert!(p.what.iter().position(|w| w == "tmpfs /tmp").unwrap() < mkdir);
        // Read-only / is the very last step.
        assert_eq!(p.what.last().unwrap(), "read-only /");
    }

    #[test]
    fn duplicates_and_impossible_mounts_fail_at_build() {
        let err = RootPlan::build(&[tmpfs("/x"), tmpfs("/x")], &fixed("/tmp"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/x"), "{err}");
        // A bind below a file bind.
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = RootPlan::build(&[ro(f.path(), "/f"), tmpfs("/f/x")], &fixed("/tmp"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/f/x") && err.contains("file"), "{err}");
        // A mount point that does not exist inside a bind.
        let d = tempfile::tempdir().unwrap();
        let err = RootPlan::build(&[ro(d.path(), "/in"), tmpfs("/in/new")], &fixed("/tmp"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/in/new") || err.contains("new"), "{err}");
        // A symlink inside a bind is never a mount point.
        std::os::unix::fs::symlink("/etc", d.path().join("link")).unwrap();
        let err = RootPlan::build(&[ro(d.path(), "/in"), tmpfs("/in/link")], &fixed("/tmp"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("symlink"), "{err}");
        // An existing directory inside a bind is fine.
        std::fs::create_dir(d.path().join("sub")).unwrap();
        RootPlan::build(&[ro(d.path(), "/in"), tmpfs("/in/sub")], &fixed("/tmp")).unwrap();
    }

    #[test]
    fn with_extra_validates_like_build() {
        let base = RootPlan::build(&[tmpfs("/x")], &fixed("/tmp")).unwrap();
        assert!(base.with_extra(&[tmpfs("/x")]).is_err());
        let more = base.with_extra(&[tmpfs("/y")]).unwrap();
        assert!(mount_points(&more).contains(&"/y".to_string()));
    }

    #[test]
    fn identity_files_are_generated_unless_configured() {
        let p = RootPlan::build(&[], &fixed("/tmp")).unwrap();
        for f in [
            "/etc/hosts",
            "/etc/passwd",
            "/etc/group",
            "/etc/nsswitch.conf",
        ] {
            assert!(p.mounted.contains(&format!("file:{f}")), "{f}");
        }
        let p = RootPlan::build(&[ro(Path::new("/etc"), "/etc")], &fixed("/tmp")).unwrap();
        assert!(!p.mounted.iter().any(|m| m.starts_with("file:")));
        assert!(
            p.sources
                .iter()
                .all(|s| s.path.as_bytes() != b"/etc" || s.attrs & MOUNT_ATTR_RDONLY != 0)
        );
    }

    #[test]
    fn missing_source_is_an_error_unless_optional() {
        let mut m = ro(Path::new("/definitely/not/here"), "/x");
        assert!(matches!(
            RootPlan::build(std::slice::from_ref(&m), &fixed("/tmp")),
            Err(Error::Path { .. })
        ));
        m.optional = true;
        assert!(RootPlan::build(&[m], &fixed("/tmp")).is_ok());
    }
}
