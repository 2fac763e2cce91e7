//! Job directories carry the identity of the process that made them, so that the ones a
//! killed `serve`/`worker` left behind are removed when a process starts again on the same
//! work directory (or, for the default work directory, in the same temp directory).
//!
//! A process is named by its pid and its start time (field 22 of `/proc/PID/stat`, clock
//! ticks since boot): a reused pid has another start time, so a directory is never taken for
//! a live process's and never kept for a dead one's because its pid came back. The names:
//!
//! - `job-PID-START-XXXXXX` inside the work directory (one per job);
//! - `runcell-serve-PID-START` in `$TMPDIR` (the default work directory of one process);
//! - `runcell-ws-PID-HEX` inside the work directory (a warm cell's job directory, named by
//!   the library without a start time: kept while a process of that pid exists).
//!
//! What is removed is only what runcell made: an entry whose name has one of these shapes,
//! whose owner is dead, that is a real directory (`lstat`: a symbolic link is never
//! followed, nor removed as if it were one). Job directories are looked for only in a work
//! directory that belongs to this user and that nobody else can write to (so every entry in
//! it was made by a runcell process of this user: a job directory itself is handed to the
//! run's host uid, so its own owner says nothing); default work directories in the shared
//! temp directory must themselves belong to this user. Removal goes through
//! [`remove_job_dir`](super::execute::remove_job_dir), which never follows a link.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::execute::remove_job_dir;

/// Prefix of a job directory's name.
const JOB: &str = "job-";
/// Prefix of a process's default work directory in the temp directory.
const DEFAULT_WORK: &str = "runcell-serve-";

/// The start time of process `pid` in clock ticks since boot, `None` when there is no such
/// process (or its stat cannot be read).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3; the start time is field 22.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// This process as `PID-START`.
pub fn own_tag() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", start_time(pid).unwrap_or(0))
}

/// Prefix for this process's job directories (`job-PID-START-`).
pub fn job_prefix() -> String {
    format!("{JOB}{}-", own_tag())
}

/// The default work directory of this process.
pub fn default_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("{DEFAULT_WORK}{}", own_tag()))
}

/// Create `dir` (this process's default work directory) as a new directory. One that exists
/// already is removed first if it is a directory of this user (left by a process of an
/// earlier boot that had the same pid and start time); anything else there (a link, another
/// user's directory) is an error: it is never adopted.
pub fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if let Ok(md) = std::fs::symlink_metadata(dir) {
        if !(md.file_type().is_dir() && md.uid() == me) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a directory of this user",
            ));
        }
        remove_job_dir(dir);
    }
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

/// Prefix of the job directories of warm cells (the library's workspaces, made in the work
/// directory: `runcell-ws-PID-RANDOM`; no start time: a reused pid keeps them).
const WARM_WS: &str = "runcell-ws-";

/// The owner `(pid, start)` named by an entry `PREFIX PID-START[-rest]`; for a warm cell's
/// workspace (`runcell-ws-PID-HEX`), `(pid, u64::MAX)`: alive while the pid exists.
fn owner_of(name: &str, prefix: &str) -> Option<(u32, u64)> {
    if prefix == WARM_WS {
        let (pid, rest) = name.strip_prefix(prefix)?.split_once('-')?;
        let pid: u32 = pid.parse().ok()?;
        u64::from_str_radix(rest, 16).ok()?;
        return Some((pid, u64::MAX));
    }
    let mut it = name.strip_prefix(prefix)?.splitn(3, '-');
    let pid: u32 = it.next()?.parse().ok()?;
    let start: u64 = it.next()?.parse().ok()?;
    if prefix == DEFAULT_WORK && it.next().is_some() {
        return None;
    }
    if prefix == JOB && it.next().is_none_or(str::is_empty) {
        return None;
    }
    Some((pid, start))
}

/// Whether the process that named itself `(pid, start)` is gone. Our own process is never
/// gone; a pid that exists with another start time was reused, so its first owner is gone.
fn is_dead((pid, start): (u32, u64)) -> bool {
    if pid == std::process::id() {
        return false;
    }
    match start_time(pid) {
        None => true,
        Some(_) if start == u64::MAX => false,
        Some(t) => t != start,
    }
}

/// Remove every entry of `dir` named `prefix PID-START...` whose process is dead and that is
/// a directory (not a link) passing `owned`. Returns how many were removed.
fn sweep(dir: &Path, prefix: &str, owned: impl Fn(&std::fs::Metadata) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(owner) = name.to_str().and_then(|n| owner_of(n, prefix)) else {
            continue;
        };
        if !is_dead(owner) {
            continue;
        }
        let path = e.path();
        // lstat: a symbolic link is not a directory here, whatever it points to.
        match std::fs::symlink_metadata(&path) {
            Ok(md) if md.file_type().is_dir() && owned(&md) => {
                remove_job_dir(&path);
                if std::fs::symlink_metadata(&path).is_err() {
                    removed += 1;
                }
            }
            _ => {}
        }
    }
    removed
}

/// At start: remove the job directories that dead processes left in `work_dir`, and, when
/// `default` (the work directory is this process's own under the temp directory), the whole
/// default work directories of dead processes there. Logs what it removed.
pub fn clean_stale(work_dir: &Path, default: bool) {
    clean_stale_in(&std::env::temp_dir(), work_dir, default);
}

fn clean_stale_in(tmp: &Path, work_dir: &Path, default: bool) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if default {
        let n = sweep(tmp, DEFAULT_WORK, |md| md.uid() == me);
        if n > 0 {
            tracing::info!(
                removed = n,
                "removed the work directories of dead runcell processes"
            );
        }
    }
    // Only in a directory nobody else can write to: then each entry was made by us.
    let private = std::fs::symlink_metadata(work_dir)
        .is_ok_and(|md| md.file_type().is_dir() && md.uid() == me && md.mode() & 0o022 == 0);
    if !private {
        tracing::warn!(
            dir = %work_dir.display(),
            "work directory is not private to this user: job directories of dead processes are not removed"
        );
        return;
    }
    let n = sweep(work_dir, JOB, |_| true) + sweep(work_dir, WARM_WS, |_| true);
    if n > 0 {
        tracing::info!(dir = %work_dir.display(), removed = n, "removed the job directories of dead processes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_their_owner() {
        assert_eq!(owner_of("job-12-345-abcdef", JOB), Some((12, 345)));
        assert_eq!(owner_of("job-12-345", JOB), None, "a job name has a suffix");
        assert_eq!(owner_of("job-12-345-", JOB), None);
        assert_eq!(owner_of("job-x-345-a", JOB), None);
        assert_eq!(
            owner_of("runcell-serve-12-345", DEFAULT_WORK),
            Some((12, 345))
        );
        assert_eq!(owner_of("runcell-serve-12", DEFAULT_WORK), None);
        assert_eq!(owner_of("runcell-serve-12-345-x", DEFAULT_WORK), None);
        assert_eq!(owner_of("other-12-345-x", JOB), None);
        assert_eq!(owner_of("runcell-ws-12-ab3", WARM_WS), Some((12, u64::MAX)));
        assert_eq!(owner_of("runcell-ws-12-xyz", WARM_WS), None);
    }

    #[test]
    fn own_process_lives_and_a_reused_pid_does_not_count() {
        let me = std::process::id();
        let start = start_time(me).unwrap();
        assert!(!is_dead((me, start)));
        // pid 1 exists, but not with this start time.
        let init = start_time(1).unwrap();
        assert!(!is_dead((1, init)));
        assert!(is_dead((1, init + 1)));
        assert!(is_dead((999_999_999, 1)), "beyond pid_max");
    }

    #[test]
    fn sweep_removes_dead_owners_dirs_only_and_follows_no_link() {
        use std::os::unix::fs::PermissionsExt;
        let work = tempfile::tempdir().unwrap();
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        let dead = work.path().join("job-999999999-1-aaaaaa");
        std::fs::create_dir_all(dead.join("d/e")).unwrap();
        std::fs::write(dead.join("d/e/f"), b"x").unwrap();
        // A locked directory inside, as a program may leave it.
        std::fs::set_permissions(dead.join("d"), std::fs::Permissions::from_mode(0o000)).unwrap();
        // A link named like a dead job directory, to a directory outside.
        let link = work.path().join("job-999999999-1-bbbbbb");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        // A link inside a dead job directory.
        std::os::unix::fs::symlink(outside.path(), dead.join("out")).unwrap();
        let live = work.path().join(format!("{}xyz", job_prefix()));
        std::fs::create_dir(&live).unwrap();
        let ws = work.path().join("runcell-ws-999999999-1f");
        std::fs::create_dir_all(ws.join("work")).unwrap();
        let live_ws = work
            .path()
            .join(format!("runcell-ws-{}-2e", std::process::id()));
        std::fs::create_dir_all(live_ws.join("work")).unwrap();
        let other = work.path().join("unrelated");
        std::fs::create_dir(&other).unwrap();

        clean_stale(work.path(), false);
        assert!(!dead.exists(), "a dead process's job directory is removed");
        assert!(!ws.exists(), "and its warm cells' directories");
        assert!(live_ws.exists());
        assert!(
            std::fs::symlink_metadata(&link).is_ok(),
            "a link is left alone"
        );
        assert!(live.exists(), "our own job directory stays");
        assert!(other.exists(), "what runcell did not name stays");
        assert!(
            outside.path().join("keep").exists(),
            "nothing is followed out"
        );
    }

    #[test]
    fn dead_processes_default_work_dirs_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dead = tmp.path().join("runcell-serve-999999999-7");
        std::fs::create_dir_all(dead.join("job-999999999-7-abcdef/x")).unwrap();
        let mine = tmp.path().join(format!("runcell-serve-{}", own_tag()));
        create_private(&mine).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let link = tmp.path().join("runcell-serve-999999999-8");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        clean_stale_in(tmp.path(), &mine, true);
        assert!(!dead.exists());
        assert!(mine.exists());
        assert!(std::fs::symlink_metadata(&link).is_ok());
        assert!(outside.path().exists());
        // A link (or another user's entry) by our own default name is never adopted.
        std::fs::remove_dir(&mine).unwrap();
        std::os::unix::fs::symlink(outside.path(), &mine).unwrap();
        assert!(create_private(&mine).is_err());
    }
}
