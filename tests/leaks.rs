//! Leak checks: fds, processes and temp dirs, measured with this binary's tests serialized
//! (the fd table is process-wide, so concurrent tests would blur the numbers).

mod common;
use std::sync::Mutex;

use common::*;
use runcell::{Command, Sandbox, Verdict};

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn sixteen_threads_spawn_at_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Process-wide descriptors are made once, not per sandbox: the init memfd by the first
    // build, the host-id lease directory (root) by the first run.
    let first = Sandbox::builder().build().unwrap();
    first.run(&Command::new("true"), b"").unwrap();
    drop(first);
    let before = fd_count();
    let sb = Sandbox::builder().build().unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let sb = &sb;
                s.spawn(move || {
                    for j in 0..5 {
                        let o = sb
                            .run(
                                &Command::new("sh")
                                    .arg("-c")
                                    .arg(format!("echo {i}-{j}; cat")),
                                format!("in{i}").as_bytes(),
                            )
                            .unwrap();
                        assert_eq!(o.verdict, Verdict::Ok);
                        assert_eq!(
                            String::from_utf8_lossy(&o.stdout),
                            format!("{i}-{j}\nin{i}")
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    // The cgroup pool holds its leaves' control files until the sandbox is dropped.
    drop(sb);
    assert_eq!(fd_count(), before);
}

#[test]
fn no_fd_process_or_tempdir_leak_across_500_runs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Warm up lazily-opened process-wide host fds, then measure.
    let first = Sandbox::builder().build().unwrap();
    first.run(&Command::new("true"), b"").unwrap();
    drop(first);
    let fds = fd_count();
    let tmp_entries = runcell_tmp_entries();
    let sb = Sandbox::builder().build().unwrap();
    for i in 0..500 {
        let cmd = if i % 50 == 0 {
            Command::new("no-such-program")
        } else {
            Command::new("true")
        };
        match sb.run(&cmd, b"") {
            Ok(o) => assert_eq!(o.verdict, Verdict::Ok),
            Err(runcell::Error::ProgramNotFound { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    // The last runs' ends may still be on the sandbox's reaper thread, and its cgroup pool
    // holds its leaves' control files: dropping the sandbox waits for both.
    drop(sb);
    assert_eq!(fd_count(), fds);
    // No zombies: every child of ours was reaped.
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on any child.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    assert!(r <= 0, "unreaped child {r}");
    // Other processes use /tmp meanwhile (this failed when another job made 6 entries); runcell
    // itself creates nothing there.
    let tmp_after = runcell_tmp_entries();
    assert!(
        tmp_after.is_subset(&tmp_entries),
        "{tmp_entries:?} -> {tmp_after:?}"
    );
}
