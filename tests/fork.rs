//! A host that forks (a pre-fork worker model, or `fork()` and then the sandbox's clone in the
//! child): the child's runs work, its handles' drop leaves the parent's sandbox working, and
//! a fork taken while another thread is inside a run (holding one of the sandbox's or the
//! process's locks) never leaves the child waiting on a lock it inherited held. Each child
//! has an `alarm`: a hang ends it with SIGALRM, which fails the test (no timing is asserted).

mod common;
#[path = "../examples/soak/harness.rs"]
mod harness;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use runcell::{Command, Sandbox};

/// The tests of this file count this process's cgroups and children: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The runcell cgroup directories (pools' parents, flat leaves) made by process `pid`: under
/// the tests' cgroup v2 base when one is set, else under this process's own cgroups (a forked
/// child's own cgroups are those of its parent).
fn cgroup_dirs(pid: u32) -> Vec<String> {
    let mut out = harness::cgroup_dirs_of(pid);
    if let Some(base) = cgroup_v2_base() {
        let prefix = format!("runcell-{pid}-");
        out.extend(
            std::fs::read_dir(&base)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path().display().to_string()),
        );
    }
    out
}

/// Wait for forked child `pid` (its alarm bounds the wait); its exit status.
fn wait_child(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waits for a child this test forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

fn exited_ok(status: libc::c_int) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// One run of `echo hi` that succeeds.
/// End a forked child with the code `body` returns, or 4 if it panicked: a panic unwinding
/// into the test harness's thread would end the child's only thread, and so the child, with
/// exit status 0.
fn exit_with(body: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(4);
    // SAFETY: ends the forked child without running the parent's destructors.
    unsafe { libc::_exit(code) }
}

fn echo(sb: &Sandbox) -> bool {
    sb.run(&Command::new("sh").args(["-c", "echo hi"]), b"")
        .is_ok_and(|o| o.success() && o.stdout == b"hi\n")
}

/// The parent builds a sandbox, runs, forks; the child runs, drops its copy of the sandbox
/// (it holds every handle it inherited) and exits; the parent's runs go on, and once it drops
/// its sandbox nothing of either process is left. Before, the child's drop removed the
/// parent's cgroup v1 parent directories and its next run failed with
/// `Cgroup { what: "create", NotFound }`.
fn parent_runs_after_its_child_dropped_the_sandbox() {
    let tmp_before = runcell_tmp_entries();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    // `Child::wait` reaps before returning: no run of the parent is under way at the fork.
    let first = sb.spawn(&Command::new("true")).unwrap().wait().unwrap();
    assert!(first.success(), "{}", stderr(&first));
    let parents_dirs = cgroup_dirs(std::process::id());
    // SAFETY: the child runs sandboxes (glibc makes malloc usable after fork; runcell's own
    // per-process state is made anew there) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: a hang ends the child with SIGALRM.
        unsafe { libc::alarm(120) };
        exit_with(|| {
            let clone = sb.clone();
            let ran = echo(&clone) && echo(&sb);
            let own_while_alive = cgroup_dirs(std::process::id());
            drop(clone);
            drop(sb);
            let own_after = cgroup_dirs(std::process::id());
            match (ran, own_after.is_empty()) {
                (false, _) => 1,
                (true, false) => 2,
                // With cgroups the child ran in cgroups of its own.
                (true, true) if !parents_dirs.is_empty() && own_while_alive.is_empty() => 3,
                (true, true) => 0,
            }
        });
    }
    let status = wait_child(pid);
    assert!(
        exited_ok(status),
        "child: status {status:#x} (exit 1: a run failed, 2: its cgroups were left, 3: it \
         made none of its own, 4: it panicked)"
    );
    assert_eq!(
        cgroup_dirs(pid as u32),
        Vec::<String>::new(),
        "the child's own"
    );
    assert_eq!(
        cgroup_dirs(std::process::id()),
        parents_dirs,
        "the parent's"
    );
    for _ in 0..3 {
        let o = sb.run(&Command::new("sh").args(["-c", "echo again"]), b"");
        let o = o.unwrap_or_else(|e| panic!("the parent's run after the child's drop: {e}"));
        assert!(o.success() && o.stdout == b"again\n", "{}", stderr(&o));
    }
    drop(sb);
    assert_eq!(cgroup_dirs(std::process::id()), Vec::<String>::new());
    // Only what a run could leave (an old root's mount point): other processes on the
    // machine (a CI step, another test binary) may make runcell-named entries meanwhile.
    let left: Vec<_> = runcell_tmp_entries()
        .difference(&tmp_before)
        .filter(|n| n.starts_with(".oldroot"))
        .cloned()
        .collect();
    assert_eq!(left, Vec::<String>::new(), "left in /tmp");
}

#[test]
fn a_forked_child_drops_its_sandbox_and_the_parent_runs_on() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    as_root_and_unprivileged(
        "a_forked_child_drops_its_sandbox_and_the_parent_runs_on",
        parent_runs_after_its_child_dropped_the_sandbox,
    );
}

/// Forks taken while two other threads run the sandbox in a loop (each fork may land while
/// one of them holds a lock of the run path: the launcher pool's, the host-id window count's,
/// the cgroup pool's, the reaper's, or while the reaper thread returns a run's leases). Every
/// child runs once and exits; none waits on a lock its parent's thread held. Dropping the
/// parent's sandbox then leaves no cgroup of its own nor of any child (the children exit
/// without dropping theirs: the threads that held the other handles are not in them).
fn forks_while_other_threads_run() {
    const FORKS: usize = 300;
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let stop = AtomicBool::new(false);
    let runs = AtomicUsize::new(0);
    let mut children = BTreeSet::new();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    assert!(sb.run(&Command::new("true"), b"").unwrap().success());
                    runs.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        wait_until("the threads' first runs", || {
            runs.load(Ordering::Relaxed) >= 2
        });
        for i in 0..FORKS {
            // SAFETY: as in the test above.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork");
            if pid == 0 {
                // SAFETY: a hang ends the child with SIGALRM.
                unsafe { libc::alarm(30) };
                exit_with(|| if echo(&sb) { 0 } else { 1 });
            }
            let status = wait_child(pid);
            if !exited_ok(status) {
                stop.store(true, Ordering::Relaxed);
            }
            assert!(
                exited_ok(status),
                "fork {i}: the child {} (status {status:#x})",
                if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
                    "hung (on a lock its parent's thread held?)"
                } else {
                    "failed its run"
                }
            );
            children.insert(pid as u32);
        }
        stop.store(true, Ordering::Relaxed);
    });
    drop(sb);
    assert_eq!(cgroup_dirs(std::process::id()), Vec::<String>::new());
    let left: Vec<String> = children.iter().flat_map(|&c| cgroup_dirs(c)).collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "the children's cgroups were left"
    );
}

#[test]
fn forks_while_other_threads_run_never_hang_the_child() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    as_root_and_unprivileged(
        "forks_while_other_threads_run_never_hang_the_child",
        forks_while_other_threads_run,
    );
}
