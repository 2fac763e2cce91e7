//! Per-job files: a host directory shared by the runs of one job (the judge pattern: the host
//! writes sources, a compile step and a run step each run in a fresh sandbox over the same
//! directory, the host reads the outputs), removed with everything in it afterwards.
//!
//! The sandbox user can read and write it, the host can read and delete everything. A root
//! host gives every run a host uid of its own (see [`HostIds`](crate::sandbox::HostIds)), so
//! before each run the whole tree is handed to that run's uid and gid, and after it the
//! directory itself goes back to the host (mode 0700: a later, unrelated sandbox that leases
//! the same uid cannot reach what this one left, even through a bind of the parent). An
//! unprivileged host's sandboxes map to the host user itself: nothing changes hands.
//!
//! What a run leaves there is untrusted: the host side opens files only beneath the directory
//! and never through a symlink (a run may plant `out.txt -> /etc/shadow`), re-owns entries
//! without following symlinks, writes replace entries instead of writing through them, and
//! set-user-ID / set-group-ID bits a run gave its files are cleared after each run. Nothing in
//! the tree is ever owned by host root except what the host itself writes.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::{Command, HostIdLease, Outcome, Sandbox};
use crate::error::{Error, Result};
use crate::sys;

/// Where a workspace appears inside the sandbox (and the runs' working directory).
pub const WORKSPACE_DIR: &str = "/work";

/// A job's directory on the host, bound read-write at [`WORKSPACE_DIR`] into each run made
/// through [`Workspace::run`]. Removed (recursively, without following links) when dropped.
///
/// ```no_run
/// use runcell::{Command, Profile, Sandbox, Verdict, Workspace};
/// let sb = Sandbox::builder().profile(Profile::named("cpp")?).build()?;
/// let ws = Workspace::new(&sb)?;
/// ws.write("main.cpp", b"#include <cstdio>\nint main(){std::puts(\"hi\");}\n")?;
/// let compiled = ws.run(&sb, Command::new("g++").args(["-O2", "-o", "main", "main.cpp"]), b"")?;
/// assert_eq!(compiled.verdict, Verdict::Ok);
/// let ran = ws.run(&sb, Command::new("./main"), b"")?;
/// assert_eq!(ran.stdout, b"hi\n");
/// # Ok::<(), runcell::Error>(())
/// ```
#[derive(Debug)]
pub struct Workspace {
    path: PathBuf,
    /// The host-only directory (mode 0700, never handed to a run) that holds `path`: what a
    /// run leaves in the workspace (a set-user-ID file of its host uid, say) is out of reach
    /// of every other host user even while the run owns the workspace itself.
    outer: PathBuf,
    dir: OwnedFd,
    /// Runs over one workspace take turns (each owns the tree while it runs).
    turn: std::sync::Mutex<()>,
}

fn io(what: &'static str, e: sys::Errno) -> Error {
    Error::sys(what, std::io::Error::from_raw_os_error(e))
}

/// A relative path of normal components only (no `..`, no absolute path, not empty).
fn relative(rel: &str) -> Result<CString> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::config(format!(
            "workspace path must be relative, without . or ..: {rel:?}"
        )));
    }
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::config(format!("workspace path contains a NUL byte: {rel:?}")))
}

impl Workspace {
    /// A new, empty workspace under the system's temporary directory.
    pub fn new(sandbox: &Sandbox) -> Result<Workspace> {
        Self::new_in(sandbox, std::env::temp_dir())
    }

    /// A new, empty workspace under `parent` (a private 0700 directory of the host works too:
    /// the sandbox reaches the workspace through its bind, not through `parent`).
    ///
    /// `sandbox` is accepted for compatibility; which ids own the tree is decided per run.
    pub fn new_in(sandbox: &Sandbox, parent: impl AsRef<Path>) -> Result<Workspace> {
        let _ = sandbox;
        let parent = parent.as_ref();
        let mut last = None;
        for attempt in 0..16u32 {
            let name = format!(
                "runcell-ws-{}-{:x}",
                std::process::id(),
                random_u64() ^ u64::from(attempt)
            );
            let outer = parent.join(name);
            match std::fs::create_dir(&outer) {
                Ok(()) => {
                    let inner = (|| {
                        use std::os::unix::fs::PermissionsExt;
                        std::fs::set_permissions(&outer, std::fs::Permissions::from_mode(0o700))
                            .map_err(|e| Error::sys("chmod workspace", e))?;
                        let path = outer.join("work");
                        std::fs::create_dir(&path).map_err(|e| Error::sys("mkdir workspace", e))?;
                        Self::adopt(path, outer.clone())
                    })();
                    if inner.is_err() {
                        let _ = std::fs::remove_dir_all(&outer);
                    }
                    return inner;
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(Error::sys("mkdir workspace", e)),
            }
        }
        Err(Error::sys(
            "mkdir workspace",
            last.unwrap_or_else(|| std::io::Error::other("no free name")),
        ))
    }

    fn adopt(path: PathBuf, outer: PathBuf) -> Result<Workspace> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::config("workspace path contains a NUL byte"))?;
        let dir = sys::open(
            &c,
            libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_RDONLY,
            0,
        )
        .map_err(|e| io("open workspace", e));
        let dir = match dir {
            // SAFETY: a fresh descriptor nothing else owns.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
            Err(e) => {
                let _ = std::fs::remove_dir(&path);
                return Err(e);
            }
        };
        let ws = Workspace {
            path,
            outer,
            dir,
            turn: std::sync::Mutex::new(()),
        };
        // Private to the host user until a run takes it (and to the sandbox user, which is the
        // host user itself for an unprivileged host).
        sys::fchmod(ws.dir.as_raw_fd(), 0o700).map_err(|e| io("chmod workspace", e))?;
        Ok(ws)
    }

    /// The directory on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write a file (creating parent directories), replacing whatever entry a run left at that
    /// name — never writing through it. Like everything in the workspace, the next run owns it
    /// (the judge pattern: a later step may rewrite what an earlier one left).
    pub fn write(&self, rel: &str, data: &[u8]) -> Result<()> {
        let c = relative(rel)?;
        let (parent, name) = self.parent_of(&c, true)?;
        let _ = sys::unlinkat(parent.as_raw_fd(), &name, false);
        let fd = sys::openat_beneath(
            parent.as_raw_fd(),
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o644,
        )
        .map_err(|e| io("create workspace file", e))?;
        // SAFETY: a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        sys::write_all(fd.as_raw_fd(), data).map_err(|e| io("write workspace file", e))
    }

    /// Read a file a run wrote (beneath the workspace, through no symlink).
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        let c = relative(rel)?;
        let fd = sys::openat_beneath(
            self.dir.as_raw_fd(),
            &c,
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
            0,
        )
        .map_err(|e| io("open workspace file", e))?;
        let file = std::fs::File::from(
            // SAFETY: a fresh descriptor nothing else owns.
            unsafe { OwnedFd::from_raw_fd(fd) },
        );
        if !file
            .metadata()
            .map_err(|e| Error::sys("stat workspace file", e))?
            .is_file()
        {
            return Err(Error::config(format!("{rel:?} is not a regular file")));
        }
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut out)
            .map_err(|e| Error::sys("read workspace file", e))?;
        Ok(out)
    }

    /// `cmd` with this workspace bound read-write at [`WORKSPACE_DIR`] and run there.
    pub fn command(&self, cmd: Command) -> Command {
        cmd.bind(&self.path, WORKSPACE_DIR)
            .current_dir(WORKSPACE_DIR)
    }

    /// Run `cmd` in `sandbox` over this workspace (see [`Workspace::command`]): lease the
    /// run's host ids, hand the tree to them, run, then clear any set-user-ID or set-group-ID
    /// bit the run gave to files here and take the directory back for the host. Runs over one
    /// workspace take turns.
    pub fn run(&self, sandbox: &Sandbox, cmd: Command, stdin: &[u8]) -> Result<Outcome> {
        let _turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        let ids = sandbox.lease_host_ids()?;
        self.hand_over(&ids)?;
        let outcome = sandbox.run(&self.command(cmd).host_ids(&ids), stdin);
        // Both always run, whatever the other found (a tree too deep to walk still goes back
        // to the host).
        let cleared = self.clear_setid();
        let taken = self.take_back();
        cleared?;
        taken?;
        outcome
    }

    /// Give the workspace and everything in it to a run's host ids (for a run started some
    /// other way than [`Workspace::run`], e.g. [`Sandbox::spawn`] with
    /// [`Command::host_ids`]); [`Workspace::take_back`] after the run.
    pub fn hand_over(&self, ids: &HostIdLease) -> Result<()> {
        chown_tree(self.dir.as_raw_fd(), ids.uid(), ids.gid())
    }

    /// After a run: the workspace directory itself goes back to the host user (mode 0700), so
    /// nothing that later leases the same host uid can reach what the run left here. Its
    /// contents keep the run's ids until the next run takes them.
    pub fn take_back(&self) -> Result<()> {
        if !super::host_ids::host_is_root() {
            return Ok(());
        }
        sys::fchown(self.dir.as_raw_fd(), 0, 0).map_err(|e| io("chown workspace", e))?;
        sys::fchmod(self.dir.as_raw_fd(), 0o700).map_err(|e| io("chmod workspace", e))
    }

    /// Clear set-user-ID / set-group-ID bits on everything in the workspace (walked through
    /// descriptors, never following a symlink).
    pub fn clear_setid(&self) -> Result<()> {
        clear_setid_in(self.dir.as_raw_fd(), 0).map_err(|e| io("clear set-id bits", e))
    }

    /// The directory that holds `rel`'s last component, created (owned by the sandbox user's
    /// ids, so runs can write there) when `create`; and that last component.
    fn parent_of(&self, rel: &CString, create: bool) -> Result<(OwnedFd, CString)> {
        let bytes = rel.as_bytes();
        let (dir_part, name) = match bytes.iter().rposition(|&b| b == b'/') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (&b""[..], bytes),
        };
        let name = CString::new(name).map_err(|_| Error::config("bad workspace path"))?;
        let mut cur = sys::dup_cloexec(self.dir.as_raw_fd()).map_err(|e| io("dup", e))?;
        for comp in dir_part.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            let comp = CString::new(comp).map_err(|_| Error::config("bad workspace path"))?;
            if create {
                match sys::mkdirat(cur, &comp, 0o755) {
                    Ok(()) | Err(libc::EEXIST) => {}
                    Err(e) => {
                        sys::close(cur);
                        return Err(io("mkdir in workspace", e));
                    }
                }
            }
            let next = sys::openat_beneath(
                cur,
                &comp,
                libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
                0,
            );
            sys::close(cur);
            cur = next.map_err(|e| io("open workspace directory", e))?;
        }
        // SAFETY: a descriptor we own.
        Ok((unsafe { OwnedFd::from_raw_fd(cur) }, name))
    }
}

/// Give the host directory `dir` and everything in it to a run's host ids: what a run leaves
/// there (and what the host wrote) becomes the next run's, so a compile step and a run step
/// with different host uids share one directory. Walked from descriptors, beneath `dir`:
/// entries are re-owned with `AT_SYMLINK_NOFOLLOW` (a symlink itself, never its target) and
/// only real directories are entered. Nothing must run over `dir` meanwhile. Changes nothing
/// for an unprivileged host, whose sandboxes are the host user.
pub fn hand_over(dir: &Path, ids: &HostIdLease) -> Result<()> {
    if !super::host_ids::host_is_root() {
        return Ok(());
    }
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| Error::config("directory path contains a NUL byte"))?;
    let fd = sys::open(
        &c,
        libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_RDONLY,
        0,
    )
    .map_err(|e| Error::Path {
        what: "directory to hand over",
        path: dir.to_path_buf(),
        source: std::io::Error::from_raw_os_error(e),
    })?;
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    chown_tree(fd.as_raw_fd(), ids.uid(), ids.gid())
}

fn chown_tree(dir: RawFd, uid: u32, gid: u32) -> Result<()> {
    if !super::host_ids::host_is_root() {
        return Ok(());
    }
    sys::fchown(dir, uid, gid).map_err(|e| io("chown workspace", e))?;
    chown_in(dir, uid, gid, 0).map_err(|e| io("chown workspace entry", e))
}

fn chown_in(dir: RawFd, uid: u32, gid: u32, depth: u32) -> sys::SysResult<()> {
    if depth > 64 {
        return Err(libc::ELOOP);
    }
    for (name, kind) in sys::list_dir(dir)? {
        match sys::lchown_at(dir, &name, uid, gid) {
            Ok(()) => {}
            Err(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        }
        if kind != libc::DT_DIR && kind != libc::DT_UNKNOWN {
            continue;
        }
        let d = match sys::openat_beneath(
            dir,
            &name,
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
            0,
        ) {
            Ok(d) => d,
            // Replaced meanwhile by something that is not a directory: nothing to enter.
            Err(libc::ENOENT) | Err(libc::ELOOP) | Err(libc::ENOTDIR) => continue,
            Err(e) => return Err(e),
        };
        let r = chown_in(d, uid, gid, depth + 1);
        sys::close(d);
        r?;
    }
    Ok(())
}

fn clear_setid_in(dir: RawFd, depth: u32) -> sys::SysResult<()> {
    if depth > 64 {
        return Err(libc::ELOOP);
    }
    for (name, kind) in sys::list_dir(dir)? {
        if kind == libc::DT_LNK {
            continue;
        }
        let fd = match sys::openat_beneath(
            dir,
            &name,
            libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0,
        ) {
            Ok(fd) => fd,
            Err(libc::ENOENT) | Err(libc::ELOOP) => continue,
            Err(e) => return Err(e),
        };
        let r = (|| -> sys::SysResult<()> {
            let mode = sys::fstat_mode(fd)?;
            if mode & libc::S_IFMT == libc::S_IFDIR {
                let d = sys::openat_beneath(
                    dir,
                    &name,
                    libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
                    0,
                )?;
                let r = clear_setid_in(d, depth + 1);
                sys::close(d);
                r?;
            }
            if mode & (libc::S_ISUID | libc::S_ISGID) != 0 && mode & libc::S_IFMT != libc::S_IFDIR {
                sys::chmod_fd_path(fd, mode & 0o1777)?;
            }
            Ok(())
        })();
        sys::close(fd);
        r?;
    }
    Ok(())
}

impl Drop for Workspace {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks (it unlinks them).
        let _ = std::fs::remove_dir_all(&self.outer);
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if sys::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_ne_bytes(b)
}
