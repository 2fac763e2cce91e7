//! Lifecycle: nothing of a sandbox survives its run, nothing leaks across many runs, many
//! threads can spawn at once, and the unprivileged path works.

mod common;
#[path = "../examples/soak/harness.rs"]
mod harness;
use std::time::Duration;

use common::*;
use runcell::{Command, Sandbox, Verdict};

#[test]
fn double_forked_daemons_die_with_the_run() {
    let marker = "31337.271828";
    let sb = Sandbox::builder().build().unwrap();
    let o = sb
        .run(
            &Command::new("sh").arg("-c").arg(format!(
                "(setsid sleep {marker} &) ; (nohup sleep {marker} >/dev/null 2>&1 &); echo started"
            )),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
    assert_eq!(o.stdout, b"started\n");
    // The kernel kills the namespace when init exits; reaping is synchronous, so nothing may
    // be left even right away.
    assert!(
        host_pids_with(marker).is_empty(),
        "{:?}",
        host_pids_with(marker)
    );
}

#[test]
fn killed_sandbox_leaves_nothing() {
    let marker = "4242.4242";
    let sb = Sandbox::builder()
        .wall_time(Duration::from_millis(300))
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg(format!("sleep {marker} & sleep {marker} & wait")),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert!(host_pids_with(marker).is_empty());
}

#[test]
fn spawn_handle_interactive_use() {
    use std::io::{BufRead, BufReader, Write};
    let sb = Sandbox::builder().build().unwrap();
    let mut child = sb.spawn(&Command::new("cat")).unwrap();
    assert!(child.pid() > 1);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    stdin.write_all(b"ping\n").unwrap();
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ping\n");
    drop(stdin);
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::Ok);

    // kill() ends it; dropping a handle kills and reaps.
    let mut child = sb.spawn(&Command::new("sleep").arg("1000")).unwrap();
    child.kill().unwrap();
    let o = child.wait().unwrap();
    assert_eq!(o.signal, Some(libc::SIGKILL));
    let child = sb.spawn(&Command::new("sleep").arg("999.123")).unwrap();
    drop(child);
    assert!(host_pids_with("999.123").is_empty());
}

#[test]
fn spawn_reports_setup_errors_synchronously() {
    let sb = Sandbox::builder().build().unwrap();
    let err = sb.spawn(&Command::new("no-such-program")).unwrap_err();
    assert!(
        matches!(err, runcell::Error::ProgramNotFound { .. }),
        "{err}"
    );
}

/// The unprivileged path: a copy of this test binary drops to uid/gid 65534 and runs a
/// sandbox there (when the suite runs as root; otherwise the whole suite already is that path).
#[test]
fn works_for_an_unprivileged_host() {
    if std::env::var_os("RUNCELL_UNPRIV_CHILD").is_some() {
        return unprivileged_child();
    }
    if !is_root() {
        unprivileged_child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "works_for_an_unprivileged_host",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_UNPRIV_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("UNPRIV-OK uid=65534"), "{text}");
}

fn unprivileged_child() {
    if is_root() {
        // SAFETY: single-threaded at this point of the child test process (one test, run with
        // --test-threads=1); dropping ids with raw calls.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
            assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
            assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
        }
    }
    // SAFETY: plain getters.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    assert_ne!(euid, 0);
    let sb = Sandbox::builder()
        .profile(runcell::Profile::named("python").unwrap())
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("python3").arg("-"),
            b"import os\nprint(os.getuid(), open('/proc/self/uid_map').read().split())",
        )
        .unwrap();
    assert_eq!(
        o.verdict,
        Verdict::Ok,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("1000 ['1000', '{euid}', '1']")
    );
    let o = sb
        .run(
            &Command::new("sh").arg("-c").arg("sleep 0.1; echo done"),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
    // No cgroups for an unprivileged host here: rlimits enforce the limits, and say so.
    let enforced = sb.enforced();
    assert_eq!(enforced.limit_mechanisms["memory"], "rlimit");
    assert_eq!(enforced.limit_mechanisms["pids"], "rlimit");
    assert!(enforced.cgroup.starts_with("none: "), "{}", enforced.cgroup);
    let o = sb
        .run(&Command::new("python3").arg("-"), b"x = bytearray(1 << 30)")
        .unwrap();
    assert_eq!(o.verdict, Verdict::ExitNonzero);
    assert!(String::from_utf8_lossy(&o.stderr).contains("MemoryError"));
    let e = Sandbox::builder()
        .cgroups(runcell::CgroupMode::Require)
        .build()
        .unwrap_err();
    assert!(matches!(e, runcell::Error::Unsupported { .. }), "{e}");
    println!("UNPRIV-OK uid={uid}");
}

/// A host that dies (SIGKILL, no cleanup) takes its sandboxes with it: a copy of this test
/// binary starts sandboxes from two threads, then is killed.
#[test]
fn sandboxes_die_with_a_killed_host() {
    let marker = "77.123456";
    if std::env::var_os("RUNCELL_DOOMED_HOST").is_some() {
        let sb = Sandbox::builder()
            .wall_time(Duration::from_secs(60))
            .build()
            .unwrap();
        std::thread::scope(|s| {
            for _ in 0..2 {
                let sb = &sb;
                s.spawn(move || {
                    let _ = sb.run(
                        &Command::new("sh")
                            .arg("-c")
                            .arg(format!("(sleep {marker} &); sleep {marker}")),
                        b"",
                    );
                });
            }
        });
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut host = std::process::Command::new(exe)
        .args([
            "--exact",
            "sandboxes_die_with_a_killed_host",
            "--test-threads=1",
        ])
        .env("RUNCELL_DOOMED_HOST", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until both sandboxes run their sleeps.
    wait_until("both sandboxes run their sleeps", || {
        host_pids_with(marker).len() >= 4
    });
    // Its cgroups, seen while it lives (once it is dead, any other test's new sandbox may
    // sweep them at any moment).
    let leaked = harness::cgroup_dirs_of(host.id());
    if is_root() {
        assert!(!leaked.is_empty(), "expected the host's cgroups");
    }
    host.kill().unwrap();
    host.wait().unwrap();
    // The kernel kills them (parent-death signal, then the PID namespace); reaping by init
    // takes however long the machine needs.
    wait_until("the killed host's sandboxes are gone", || {
        host_pids_with(marker).is_empty()
    });
    // A killed host cannot remove its cgroups; the next pool of any runcell host in the same
    // cgroup sweeps them once they are empty and their creator is gone (when it makes its
    // cgroups: at its first run).
    // The sweep removes only empty cgroups: wait until the kernel has taken the last task
    // (the sandboxes' init processes, which carry no marker) out of them.
    wait_until("the killed host's cgroups are empty", || {
        leaked
            .iter()
            .all(|d| no_tasks_below(std::path::Path::new(d)))
    });
    let sweeper = Sandbox::builder().build().unwrap();
    let ran = sweeper.run(&Command::new("true"), b"").unwrap();
    assert!(ran.success(), "{ran:?}");
    let left = harness::cgroup_dirs_of(host.id());
    assert!(left.is_empty(), "not swept: {left:?}");
}

/// Whether no cgroup at or below `dir` has a task (a directory that is gone has none).
fn no_tasks_below(dir: &std::path::Path) -> bool {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    procs.trim().is_empty()
        && std::fs::read_dir(dir).map_or(true, |rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .all(|e| no_tasks_below(&e.path()))
        })
}
