//! The background reaper: `Sandbox::run` returns at runcell-init's exit record, and init's own
//! exit and the namespaces' teardown finish on the sandbox's reaper thread. What the caller
//! may rely on: when `run` returns, no process of the program is left, and once the last clone
//! of the sandbox is dropped, nothing of any of its runs is.

mod common;
use std::sync::Mutex;

use common::*;
use runcell::{Command, Verdict};

static SERIAL: Mutex<()> = Mutex::new(());

/// A program that leaves processes behind (a background sleeper, a double-forked daemon) is
/// over, all of them, by the time `run` returns, every time; dropping the sandbox then leaves
/// no runcell-init and no zombie.
#[test]
fn a_run_returns_only_once_every_program_process_is_gone() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = builder().build().unwrap();
    for i in 0..20 {
        let marker = format!("7{i:02}.4321");
        let script = format!(
            "sleep {marker} & (sh -c 'sleep {marker}' &) ; echo started; exec sleep 0.0{i}"
        );
        let o = sb
            .run(&Command::new("sh").arg("-c").arg(&script), b"")
            .unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        assert_eq!(stdout(&o), "started\n");
        assert_eq!(host_pids_with(&marker), Vec::<u32>::new(), "run {i}");
    }
    drop(sb);
    assert_eq!(sandbox_inits(), Default::default());
    // No zombie either: the reaper reaped every init before the sandbox was gone.
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG on any child.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
    assert!(r <= 0, "unreaped child {r}");
}

/// Runs from many threads at once, each ending with a limit or normally: every outcome is the
/// program's, and dropping the sandbox (the reaper joined) leaves nothing.
#[test]
fn many_threads_then_drop_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = builder()
        .wall_time(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let sb = &sb;
            s.spawn(move || {
                for j in 0..6 {
                    let o = if j % 3 == 2 {
                        sb.run(&Command::new("sleep").arg("30.5678"), b"").unwrap()
                    } else {
                        sb.run(&Command::new("sh").args(["-c", "cat; exit 4"]), b"x")
                            .unwrap()
                    };
                    if j % 3 == 2 {
                        assert_eq!(o.verdict, Verdict::WallTimeLimit, "thread {t}");
                    } else {
                        assert_eq!((o.exit_code, stdout(&o).as_str()), (Some(4), "x"));
                    }
                }
            });
        }
    });
    assert_eq!(host_pids_with("30.5678"), Vec::<u32>::new());
    drop(sb);
    assert_eq!(sandbox_inits(), Default::default());
}

/// A host that forks after its sandbox's reaper started: the child has no copy of the thread,
/// so its runs reap before returning (before, the child's runs queued their reaps to a thread
/// that does not exist in it: its inits stayed unreaped, and dropping the sandbox there waited
/// for that thread forever).
#[test]
fn a_forked_host_reaps_its_own_runs() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = builder().build().unwrap();
    // The fork may land while the parent's reaper returns this run's leases (its cgroup leaf,
    // host ids and window, each behind a lock): the child takes none of those locks (they are
    // per process, see DESIGN §3.2).
    assert!(sb.run(&Command::new("true"), b"").unwrap().success());
    // SAFETY: the child runs a sandbox (glibc makes malloc usable after fork; runcell's
    // launcher and reaper threads are made anew there) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: a hang ends the child with SIGALRM instead of the test run.
        unsafe { libc::alarm(60) };
        let ok = (0..3).all(|_| {
            sb.run(&Command::new("sh").args(["-c", "echo hi"]), b"")
                .is_ok_and(|o| o.success() && o.stdout == b"hi\n")
        });
        let code = if ok && sandbox_inits().is_empty() {
            0
        } else {
            1
        };
        // Dropped here: the child's own cgroups go, the parent's stay (see tests/fork.rs).
        drop(sb);
        // SAFETY: ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked host's runs or drop failed (status {status:#x})"
    );
    assert!(sb.run(&Command::new("true"), b"").unwrap().success());
}
