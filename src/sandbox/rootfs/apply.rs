//! The child side of the root plan: two entry points, because the uid/gid switch sits between
//! them.
//!
//! - [`open_sources`] runs with the caller's credentials, so a bind source inside a private
//!   0700 directory (every temp-dir API's default) opens as it did for `build()`. Each source is
//!   opened without following a symlink, copied as a detached mount tree (`open_tree`) and made
//!   read-only / nosuid / nodev and private (no propagation to or from the host's mounts)
//!   recursively on that copy (`mount_setattr`).
//! - [`assemble`] builds the new root: a tmpfs, pivoted into, the host's root detached right
//!   away, then every step of the plan inside the new root, each path resolved with
//!   `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` from the new root,
//!   and the prepared trees attached with `move_mount`.
//!
//! Fork safety: only prepared data is read, nothing is allocated, locked or formatted, and every
//! system call goes through `crate::sys`.
//!
//! Kernels without the new mount API (open_tree/move_mount/fsopen: Linux 5.2, openat2: 5.6,
//! mount_setattr: 5.12) are refused at `build()` (`Error::Unsupported`, see
//! `sys::rootfs_api_missing`): the path-based fallback is exactly what lets an earlier run's
//! symlinks steer a later run's setup, so there is none.

use std::ffi::CStr;
use std::os::fd::RawFd;

use super::plan::{FsOption, RootPlan, RootStep};
use crate::sandbox::child::Step;
use crate::sys::{self, Errno, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};

/// Existing host directory the new root tmpfs is first mounted on (moved by pivot_root).
const STAGING: &CStr = c"/tmp";
const STAGING_OLD: &CStr = c"/tmp/.oldroot";
const OLD_ROOT: &CStr = c"/.oldroot";
const ROOT: &CStr = c"/";
const TMPFS: &CStr = c"tmpfs";
const ROOT_OPTS: &CStr = c"size=1m,mode=0755";

const IN_ROOT: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

/// A failure: the step, the errno, and an index (into the sources for [`Step::BindSource`],
/// into the plan's steps for [`Step::Mount`]).
pub(crate) type Failure = (Step, Errno, u32);

/// Open every bind source as a detached, attribute-restricted mount tree; `scratch[i]` receives
/// the tree of `root.sources[i]`. Runs before the uid/gid switch.
pub(crate) fn open_sources(root: &RootPlan, scratch: &mut [RawFd]) -> Result<(), Failure> {
    open_sources_noting(root, scratch, None)
}

/// [`open_sources`], noting in `ids[i]` what source `i` was when it was opened (its
/// `sys::entry_id`, taken on the very descriptor the tree is cloned from). Not in a clone
/// child: the ids are read through libc.
pub(crate) fn open_sources_noting(
    root: &RootPlan,
    scratch: &mut [RawFd],
    mut ids: Option<&mut [[u64; 3]]>,
) -> Result<(), Failure> {
    if scratch.len() < root.sources.len()
        || ids
            .as_ref()
            .is_some_and(|ids| ids.len() < root.sources.len())
    {
        return Err((Step::BindSource, libc::EINVAL, scratch.len() as u32));
    }
    for (i, (src, slot)) in root.sources.iter().zip(scratch.iter_mut()).enumerate() {
        let fail = |e| (Step::BindSource, e, i as u32);
        // The canonical path of build(), no symlink followed: a symlink planted since then
        // (by an earlier run with a read-write bind) fails here instead of exposing its target.
        // Raw calls (no `errno`): this runs before the setup process is released, while the
        // launching thread, whose TLS it uses, writes the id maps.
        let path = sys::openat2_raw(
            libc::AT_FDCWD,
            &src.path,
            libc::O_PATH,
            RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        )
        .map_err(fail)?;
        if let Some(id) = ids.as_deref_mut().and_then(|ids| ids.get_mut(i)) {
            match sys::entry_id_fd(path) {
                Ok(v) => *id = v,
                Err(e) => {
                    sys::close_raw(path);
                    return Err(fail(e));
                }
            }
        }
        let tree = sys::open_tree_clone_raw(path);
        sys::close_raw(path);
        let tree = tree.map_err(fail)?;
        *slot = tree;
        // Private, every mount of the copy: the clone of a shared (or slave) host mount would
        // stay in its peer group, and a host mount made below the source later (or a mount
        // this root attaches on the copy) would propagate across, in either direction.
        sys::mount_setattr_fd_raw(tree, true, src.attrs, libc::MS_PRIVATE).map_err(fail)?;
    }
    Ok(())
}

/// Make every mount of this (new, unshared) mount namespace private, mount the new root's
/// tmpfs on the staging point and pivot into it: afterwards `/` is the empty tmpfs, the
/// working directory is `/`, and the host's root sits at the old-root point, still attached
/// (the caller detaches it). Shared by a run's root and the template's.
fn enter_tmpfs_root() -> Result<(), Failure> {
    let at = |step: Step| move |e| (step, e, 0);
    sys::mount(None, ROOT, None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(at(Step::MountPrivate))?;
    // A tmpfs on the host's /tmp in this private namespace, made `/`.
    sys::mount(
        Some(TMPFS),
        STAGING,
        Some(TMPFS),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(ROOT_OPTS),
    )
    .map_err(at(Step::Root))?;
    sys::mkdir(STAGING_OLD, 0o700).map_err(at(Step::Root))?;
    sys::pivot_root(STAGING, STAGING_OLD).map_err(at(Step::Root))?;
    sys::chdir(ROOT).map_err(at(Step::Root))
}

/// Build the new root and enter it; `fds` are the trees [`open_sources`] prepared. Runs after
/// the uid/gid switch (every file created belongs to the sandbox user). On return the process
/// is inside the finished, read-only root, in its working directory, and `fds` are closed.
pub(crate) fn assemble(root: &RootPlan, fds: &[RawFd]) -> Result<(), Failure> {
    let at = |step: Step| move |e| (step, e, 0);
    // The host's root is detached before anything inside the new root is looked up.
    enter_tmpfs_root()?;
    // A fresh procfs may only be created while a fully visible one is in this namespace
    // (the kernel's mount_too_revealing): make it now, attach it in its turn below.
    let mut early: RawFd = -1;
    for (i, step) in root.steps.iter().enumerate() {
        if let RootStep::Fresh {
            fstype,
            options,
            attrs,
            early: true,
            ..
        } = step
        {
            early = fresh(fstype, options, *attrs).map_err(|e| (Step::Mount, e, i as u32))?;
            break;
        }
    }
    sys::umount2(OLD_ROOT, libc::MNT_DETACH).map_err(at(Step::Root))?;
    sys::rmdir(OLD_ROOT).map_err(at(Step::Root))?;

    let rootfd = sys::open(ROOT, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(at(Step::Root))?;
    let result = steps(rootfd, root, fds, early, |_| true);
    for &fd in fds.iter().take(root.sources.len()) {
        sys::close(fd);
    }
    if early >= 0 {
        sys::close(early);
    }
    enter_workdir(rootfd, root, result)
}

/// Run the steps of `root` that `pick` selects, in order, inside the root `rootfd`.
fn steps(
    rootfd: RawFd,
    root: &RootPlan,
    fds: &[RawFd],
    early: RawFd,
    pick: impl Fn(usize) -> bool,
) -> Result<(), Failure> {
    for (i, step) in root.steps.iter().enumerate() {
        if !pick(i) {
            continue;
        }
        apply(rootfd, step, fds, early).map_err(|e| (Step::Mount, e, i as u32))?;
    }
    Ok(())
}

/// After the steps (`result`): change to the working directory, resolved inside the root;
/// `rootfd` is closed.
fn enter_workdir(
    rootfd: RawFd,
    root: &RootPlan,
    result: Result<(), Failure>,
) -> Result<(), Failure> {
    let at = |step: Step| move |e| (step, e, 0);
    let wd = result.and_then(|()| {
        sys::openat2(
            rootfd,
            &root.workdir,
            libc::O_PATH | libc::O_DIRECTORY,
            IN_ROOT,
        )
        .map_err(at(Step::Workdir))
    });
    sys::close(rootfd);
    let wd = wd?;
    let r = sys::fchdir(wd);
    sys::close(wd);
    r.map_err(at(Step::Workdir))
}

/// The setup process of a run cloned from the template mount namespace (see `template`): its
/// root, a private copy of the template's, already holds every static step, read-only and
/// locked. Only the per-run steps are left: the fresh `/proc` of its own PID namespace (the
/// template's `/proc`, of a dead and empty PID namespace, is what lets it be mounted), the
/// private `/tmp`, `/dev/shm`, the working directory. Nothing is pivoted or detached: no host
/// mount was ever in this namespace. Runs after the uid/gid switch, like [`assemble`].
pub(crate) fn assemble_in_template(root: &RootPlan) -> Result<(), Failure> {
    let Some(per_run) = root.per_run.as_deref() else {
        return Err((Step::Root, libc::EINVAL, 0));
    };
    let rootfd = sys::open(ROOT, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(|e| (Step::Root, e, 0))?;
    let result = steps(rootfd, root, &[], -1, |i| per_run.get(i) == Some(&true));
    enter_workdir(rootfd, root, result)
}

/// Build the template's root in the calling thread's own (unshared) mount namespace: the same
/// tmpfs root as a run's, pivoted into, the host's root detached, then every step of `root`
/// that is not per run, with the sources `fds` (opened by [`open_sources`]), and last a procfs
/// of a PID namespace that is dead before it is attached (it lists no process, ever) at
/// `/proc`. `/` and `/dev` are read-only from their plan steps. Runs on a thread of the host
/// (not a clone child): allocation is allowed, the calls are the same as a run's.
pub(crate) fn build_template(root: &RootPlan, fds: &[RawFd]) -> Result<(), Failure> {
    let Some(per_run) = root.per_run.as_deref() else {
        return Err((Step::Root, libc::EINVAL, 0));
    };
    let at = |step: Step| move |e| (step, e, 0);
    enter_tmpfs_root()?;
    sys::umount2(OLD_ROOT, libc::MNT_DETACH).map_err(at(Step::Root))?;
    sys::rmdir(OLD_ROOT).map_err(at(Step::Root))?;
    let rootfd = sys::open(ROOT, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(at(Step::Root))?;
    let mut result = steps(rootfd, root, fds, -1, |i| per_run.get(i) == Some(&false));
    if result.is_ok() {
        result = dead_proc(rootfd, root);
    }
    sys::close(rootfd);
    result
}

/// Attach, at the plan's `/proc`, a procfs made by the first process of a new PID namespace,
/// which exits right after: the namespace is dead and empty before the mount is reachable.
fn dead_proc(rootfd: RawFd, root: &RootPlan) -> Result<(), Failure> {
    let Some((i, fstype, options, attrs, dst)) =
        root.steps.iter().enumerate().find_map(|(i, s)| match s {
            RootStep::Fresh {
                fstype,
                options,
                attrs,
                dst,
                early: true,
            } => Some((i, fstype, options, *attrs, dst)),
            _ => None,
        })
    else {
        return Ok(());
    };
    let fail = |e| (Step::Mount, e, i as u32);
    let stack = sys::Stack::new(64 << 10).map_err(fail)?;
    // The child shares this memory and this thread's TLS; the thread only waits meanwhile.
    let (_, pidfd) = sys::clone_vm(&stack, libc::CLONE_NEWPID, || {
        let r = fresh(fstype, options, attrs).and_then(|mnt| {
            let r = resolve(rootfd, dst, true).and_then(|target| {
                let r = sys::move_mount_fd(mnt, target);
                sys::close(target);
                r
            });
            sys::close(mnt);
            r
        });
        sys::exit(match r {
            Ok(()) => 0,
            Err(e) => e.clamp(1, 125),
        })
    })
    .map_err(fail)?;
    let status = sys::waitid_pidfd(pidfd);
    sys::close(pidfd);
    let (status, _) = status.map_err(fail)?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if libc::WIFEXITED(status) {
        Err(fail(libc::WEXITSTATUS(status)))
    } else {
        Err(fail(libc::ECHILD))
    }
}

/// Open `path` inside the new root, following no symlink.
fn resolve(rootfd: RawFd, path: &CStr, dir: bool) -> sys::SysResult<RawFd> {
    let flags = libc::O_PATH | if dir { libc::O_DIRECTORY } else { 0 };
    sys::openat2(rootfd, path, flags, IN_ROOT)
}

/// Run `f` with the directory `parent` (inside the new root) open.
fn in_dir(
    rootfd: RawFd,
    parent: &CStr,
    f: impl FnOnce(RawFd) -> sys::SysResult<()>,
) -> sys::SysResult<()> {
    let dir = resolve(rootfd, parent, true)?;
    let r = f(dir);
    sys::close(dir);
    r
}

/// A fresh, detached mount of `fstype` with `options`.
fn fresh(fstype: &CStr, options: &[FsOption], attrs: u64) -> sys::SysResult<RawFd> {
    let ctx = sys::fsopen(fstype)?;
    let mut r = Ok(());
    for o in options {
        r = sys::fsconfig_set(ctx, &o.key, o.value.as_deref());
        if r.is_err() {
            break;
        }
    }
    let mnt = r.and_then(|_| sys::fsmount(ctx, attrs));
    sys::close(ctx);
    mnt
}

fn apply(rootfd: RawFd, step: &RootStep, fds: &[RawFd], early: RawFd) -> sys::SysResult<()> {
    match step {
        RootStep::Mkdir { parent, name } => {
            in_dir(rootfd, parent, |d| sys::mkdirat(d, name, 0o755))
        }
        RootStep::Touch { parent, name } => in_dir(rootfd, parent, |d| {
            let fd = sys::openat(
                d,
                name,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
                0o644,
            )?;
            sys::close(fd);
            Ok(())
        }),
        RootStep::Symlink {
            parent,
            name,
            target,
        } => in_dir(rootfd, parent, |d| sys::symlinkat(target, d, name)),
        RootStep::WriteFile {
            parent,
            name,
            content,
        } => in_dir(rootfd, parent, |d| {
            let fd = sys::openat(
                d,
                name,
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
                0o644,
            )?;
            let r = sys::write_all(fd, content);
            sys::close(fd);
            r
        }),
        RootStep::Attach { source, dst, dir } => {
            let tree = *fds.get(*source).ok_or(libc::EBADF)?;
            let target = resolve(rootfd, dst, *dir)?;
            let r = sys::move_mount_fd(tree, target);
            sys::close(target);
            r
        }
        RootStep::Fresh {
            fstype,
            options,
            attrs,
            dst,
            early: is_early,
        } => {
            // Made before the host's root was detached, or (from a template, whose /proc
            // makes it possible) now.
            let made_early = *is_early && early >= 0;
            let mnt = if made_early {
                early
            } else {
                fresh(fstype, options, *attrs)?
            };
            let r = resolve(rootfd, dst, true).and_then(|target| {
                let r = sys::move_mount_fd(mnt, target);
                sys::close(target);
                r
            });
            if !made_early {
                sys::close(mnt);
            }
            r
        }
        RootStep::SetAttr { dst, attrs } => {
            let target = resolve(rootfd, dst, true)?;
            let r = sys::mount_setattr_fd(target, false, *attrs);
            sys::close(target);
            r
        }
    }
}
