//! Sandbox-local kernel budgets: a sandbox that exhausts what the kernel counts per user
//! (inotify instances, keys, namespaces) must leave the host user able to create its own.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use common::*;
use runcell::{Command, Profile, Sandbox};

/// Start a sandbox that grabs as many of something as it can, holds them, and prints how many
/// it got; returns the handle (kept alive while the host tries) and the count.
fn hold(sb: &Sandbox, code: &str) -> (runcell::Child, String) {
    let mut child = sb
        .spawn(&Command::new("python3").args(["-c", code]))
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

fn python(seccomp: &str) -> Sandbox {
    Sandbox::builder()
        .profile(Profile::named("python").unwrap())
        .seccomp(seccomp)
        .wall_time(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[test]
fn inotify_instances_are_bounded_per_sandbox_and_the_host_keeps_its_own() {
    let code = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while len(fds) < 1000:
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    fds.append(fd)
print(len(fds), os.strerror(ctypes.get_errno()), flush=True)
sys.stdin.read()
"#;
    let sb = python("default");
    // Several sandboxes at once, each holding all it can get (16, its namespace's own cap). As
    // root, 10 of them hold 160, more than host root's 128: the counts are charged to each
    // run's own host uid (the owner of its user namespace), not to root. An unprivileged
    // host's sandboxes are the host user itself: a few, within its 128.
    let n_sandboxes = if is_root() { 10 } else { 4 };
    let max = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .unwrap()
        .trim()
        .parse::<usize>()
        .unwrap();
    if is_root() {
        assert!(n_sandboxes * 16 > max, "max_user_instances {max}");
    }
    let held: Vec<_> = (0..n_sandboxes).map(|_| hold(&sb, code)).collect();
    for (_, line) in &held {
        let n: usize = line.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(n, 16, "a sandbox holds {n} inotify instances: {line}");
    }
    // The host user can still create one.
    // SAFETY: inotify_init1 with a flag; the fd is closed right away.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(
        fd >= 0,
        "host inotify_init1: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    for (mut child, _) in held {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
}

#[test]
fn a_sandbox_cannot_create_namespaces_even_without_seccomp() {
    let code = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
r = libc.unshare(CLONE_NEWUSER)
print(r, os.strerror(ctypes.get_errno()) if r else 'ok', flush=True)
"#;
    let o = python("none")
        .run(&Command::new("python3").args(["-c", code]), b"")
        .unwrap();
    assert!(stdout(&o).starts_with("-1 "), "{}", stdout(&o));
}

#[test]
fn keys_are_charged_to_each_run_s_own_host_uid() {
    // Each sandbox adds keys to its session keyring until the kernel refuses (the key quota
    // of its host uid: 200 keys for a non-root uid, the session keyring included). Two at
    // once each get the whole quota: they share no uid with each other or with the host.
    if !is_root() {
        // An unprivileged host's sandboxes are charged to the host user itself (documented).
        return;
    }
    let code = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
n = 0
while n < 10000:
    r = libc.syscall(248, b"user", b"k%d" % n, b"x", ctypes.c_size_t(1), ctypes.c_int(-3))
    if r < 0:
        break
    n += 1
print(n, os.strerror(ctypes.get_errno()), flush=True)
sys.stdin.read()
"#;
    let sb = python("none");
    let held: Vec<_> = (0..2).map(|_| hold(&sb, code)).collect();
    for (_, line) in &held {
        let n: usize = line.split_whitespace().next().unwrap().parse().unwrap();
        assert!(n >= 150, "a sandbox could add only {n} keys: {line}");
        assert!(line.contains("quota"), "{line}");
    }
    // The host (root) can still add one to its own session keyring.
    // SAFETY: add_key with NUL-terminated strings and a 1-byte payload.
    let id = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            c"runcell-host-probe".as_ptr(),
            c"x".as_ptr(),
            1usize,
            -3 as libc::c_int,
        )
    };
    assert!(id > 0, "host add_key: {}", std::io::Error::last_os_error());
    // SAFETY: KEYCTL_UNLINK (9) of our own key from the session keyring.
    unsafe { libc::syscall(libc::SYS_keyctl, 9, id, -3 as libc::c_int) };
    for (mut child, _) in held {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
}

#[test]
fn concurrent_sandboxes_do_not_run_out_of_session_keyrings() {
    // Every run joins a fresh session keyring. Charged to one shared uid, a few hundred
    // concurrent runs hit its key quota (200) and failed setup with EDQUOT.
    if !is_root() {
        // An unprivileged host's sandboxes are charged to the host user itself (documented).
        return;
    }
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut children = Vec::new();
    for i in 0..260 {
        match sb.spawn(&Command::new("sh").args(["-c", "read x"])) {
            Ok(c) => children.push(c),
            Err(e) => panic!("run {i} of 260 concurrent failed: {e}"),
        }
    }
    for mut c in children {
        let _ = c.stdin.take().unwrap().write_all(b"\n");
        c.wait().unwrap();
    }
}
