//! Honest usage: CPU time and peak memory count every process of the sandbox, also when the
//! run is killed at a limit, with and without cgroups; the wall limit holds when the host's
//! output sink stops reading. Assertions compare what the programs measured themselves with
//! what runcell reports (never against a speed of this machine).

mod common;
use std::os::fd::AsFd;
use std::time::Duration;

use common::*;
use runcell::{CgroupMode, Command, Input, Output, Profile, Sandbox, Verdict};

fn sandbox(cgroups: CgroupMode, wall: Duration) -> Sandbox {
    Sandbox::builder()
        .profile(Profile::named("python").unwrap())
        .cgroups(cgroups)
        .wall_time(wall)
        .build()
        .unwrap()
}

/// The last CPU time (ms) a program printed as `cpu N` lines.
fn last_reported_cpu_ms(out: &str) -> u64 {
    out.lines()
        .filter_map(|l| l.strip_prefix("cpu "))
        .filter_map(|v| v.trim().parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no cpu line in {out:?}"))
}

#[test]
fn busy_loops_killed_at_the_wall_limit_report_their_cpu_time() {
    // The busy loop runs in a grandchild (orphaned: its parent exits at once) and in the
    // program itself: everything counts, although the run ends by a kill.
    let code = r#"
import os, time
if os.fork() == 0:
    if os.fork() != 0:
        os._exit(0)
    while True:
        pass
while True:
    t = time.process_time()
    # process_time covers this process only; the orphan burns at least as much.
    print('cpu', int(t * 1000), flush=True)
    end = t + 0.05
    while time.process_time() < end:
        pass
"#;
    for mode in [CgroupMode::Auto, CgroupMode::Off] {
        let o = sandbox(mode, Duration::from_secs(2))
            .run(&Command::new("python3").arg("-"), code.as_bytes())
            .unwrap();
        assert_eq!(o.verdict, Verdict::WallTimeLimit, "{}", stderr(&o));
        let own = last_reported_cpu_ms(&stdout(&o));
        let reported = o.cpu_time.as_millis() as u64;
        // The program alone used `own`; the orphan ran alongside it.
        assert!(
            reported >= own,
            "{mode:?}: reported {reported} ms < the program's own {own} ms"
        );
        assert!(own > 0);
    }
}

#[test]
fn a_killed_memory_hog_reports_its_peak() {
    // A child touches 96 MiB and holds it until the wall limit kills everything.
    let code = r#"
import os, time
pid = os.fork()
if pid == 0:
    b = bytearray(96 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    print('held', flush=True)
    time.sleep(3600)
os.waitpid(pid, 0)
"#;
    for mode in [CgroupMode::Auto, CgroupMode::Off] {
        let o = sandbox(mode, Duration::from_secs(3))
            .run(&Command::new("python3").arg("-"), code.as_bytes())
            .unwrap();
        if stdout(&o).trim() != "held" {
            // The machine was too loaded to touch 96 MiB within the limit: nothing to check.
            continue;
        }
        assert_eq!(o.verdict, Verdict::WallTimeLimit);
        assert!(
            o.max_rss_kib >= 96 * 1024,
            "{mode:?}: max_rss_kib {} after a 96 MiB child was killed",
            o.max_rss_kib
        );
        if let Some(peak) = o.max_memory_kib {
            assert!(peak >= 96 * 1024, "{mode:?}: cgroup peak {peak} KiB");
        }
    }
}

#[test]
fn a_stalled_output_sink_does_not_hold_the_run_past_its_wall_limit() {
    // Nobody reads this pipe: once it is full, forwarding would block forever.
    let (r, w) = std::io::pipe().unwrap();
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(1))
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let o = sb.run_with(
            &Command::new("sh").args(["-c", "while :; do echo 0123456789abcdef; done"]),
            Input::Bytes(b""),
            Output::Fd(w.as_fd()),
            Output::Capture,
        );
        let _ = tx.send(());
        o
    });
    // Generous: the run ends at its 1 s limit; only a run that never ends fails this.
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the run is still blocked on the stalled sink after 60 s");
    let o = handle.join().unwrap().unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert!(
        o.stdout_truncated,
        "data the sink never took is reported as cut"
    );
    drop(r);
}

#[test]
fn descriptors_in_the_wrong_direction_are_refused() {
    let (r, w) = std::io::pipe().unwrap();
    let sb = Sandbox::builder().build().unwrap();
    let cmd = Command::new("true");
    let err = sb
        .run_with(&cmd, Input::Fd(w.as_fd()), Output::Capture, Output::Capture)
        .unwrap_err();
    assert!(err.to_string().contains("not open for reading"), "{err}");
    let err = sb
        .run_with(
            &cmd,
            Input::Bytes(b""),
            Output::Fd(r.as_fd()),
            Output::Capture,
        )
        .unwrap_err();
    assert!(err.to_string().contains("not open for writing"), "{err}");
}

#[test]
fn a_host_that_ignores_sigchld_can_run_sandboxes() {
    // Re-run this test in a child process that ignores SIGCHLD (children would be reaped by
    // the kernel behind runcell's back) and also reaps with waitpid(-1) from another thread.
    if std::env::var_os("RUNCELL_SIGCHLD_CHILD").is_some() {
        // SAFETY: setting a disposition to SIG_IGN in a single-threaded child test process.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
        std::thread::spawn(|| {
            loop {
                let mut st = 0;
                // SAFETY: plain waitpid on any child.
                unsafe { libc::waitpid(-1, &mut st, 0) };
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let sb = Sandbox::builder().build().unwrap();
        for _ in 0..20 {
            let o = sb
                .run(&Command::new("sh").args(["-c", "exit 3"]), b"")
                .unwrap();
            assert_eq!(o.exit_code, Some(3));
            assert_eq!(o.verdict, Verdict::ExitNonzero);
        }
        println!("SIGCHLD-OK");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_host_that_ignores_sigchld_can_run_sandboxes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_SIGCHLD_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("SIGCHLD-OK"),
        "{text}"
    );
}

#[test]
fn a_spawned_child_outlives_the_thread_that_spawned_it() {
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(30))
        .build()
        .unwrap();
    let child = std::thread::spawn(move || {
        sb.spawn(&Command::new("sh").args(["-c", "read x; echo got $x"]))
            .unwrap()
    })
    .join()
    .unwrap();
    // The spawning thread is gone; the sandbox must still be alive and working.
    let mut child = child;
    use std::io::{Read, Write};
    child.stdin.take().unwrap().write_all(b"ping\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "got ping\n");
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
}
