//! The tokio API: results match the blocking API, many sandboxes share one runtime thread, and
//! dropping a future or a child kills and reaps the sandbox.

mod common;
use std::time::{Duration, Instant};

use common::*;
use runcell::{Command, Error, Sandbox, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Killed sandboxes are reaped in the background: wait (bounded) until none is left.
async fn gone(marker: &str) -> bool {
    for _ in 0..200 {
        if host_pids_with(marker).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn run_async_matches_run() {
    rt().block_on(async {
        let sb = python_builder().build().unwrap();
        let code = b"import sys\nprint(sys.stdin.read().upper())\nsys.exit(3)\n";
        let o = sb
            .run_async(&Command::new("python3").arg("-"), code)
            .await
            .unwrap();
        assert_eq!(o.verdict, Verdict::ExitNonzero);
        assert_eq!(o.exit_code, Some(3));
        assert_eq!(stdout(&o), "\n");
        let sync = sb.run(&Command::new("python3").arg("-"), code).unwrap();
        assert_eq!((sync.verdict, sync.exit_code), (o.verdict, o.exit_code));

        // stdin larger than a pipe buffer, echoed back.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let sb = Sandbox::builder().output_limit(4 << 20).build().unwrap();
        let o = sb.run_async(&Command::new("cat"), &big).await.unwrap();
        assert_eq!(o.verdict, Verdict::Ok);
        assert!(o.stdout == big, "echoed {} bytes", o.stdout.len());
    });
}

#[test]
fn async_limits_and_errors() {
    rt().block_on(async {
        let sb = Sandbox::builder()
            .wall_time(Duration::from_millis(300))
            .build()
            .unwrap();
        let t = Instant::now();
        let o = sb
            .run_async(&Command::new("sleep").arg("30"), b"")
            .await
            .unwrap();
        assert_eq!(o.verdict, Verdict::WallTimeLimit);
        assert!(t.elapsed() < Duration::from_secs(5));

        let sb = Sandbox::builder().output_limit(1000).build().unwrap();
        let o = sb.run_async(&Command::new("yes"), b"").await.unwrap();
        assert_eq!(o.verdict, Verdict::OutputLimit);
        assert_eq!(o.stdout.len(), 1000);
        assert!(o.stdout_truncated);

        let o = sb
            .run_async(&Command::new("sh").arg("-c").arg("kill -SEGV $$"), b"")
            .await
            .unwrap();
        assert_eq!(
            (o.verdict, o.signal),
            (Verdict::Signaled, Some(libc::SIGSEGV))
        );

        let e = sb
            .run_async(&Command::new("no-such-program-here"), b"")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ProgramNotFound { .. }), "{e}");
    });
}

#[test]
fn two_hundred_sandboxes_on_one_thread() {
    // Each sandbox sleeps this long (seconds); only the sleep's command line has the marker.
    let marker = "3.14159";
    let before_fds = fd_count();
    let rt = rt();
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(60))
        .build()
        .unwrap();
    let threads_before = threads();
    let (outcomes, peak_threads, elapsed) = rt.block_on(async {
        let t = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..200 {
            let sb = sb.clone();
            set.spawn(async move {
                let cmd = Command::new("sh")
                    .arg("-c")
                    .arg(format!("m={}; sleep $m.14159; echo {i}", &marker[..1]));
                (i, sb.run_async(&cmd, b"").await)
            });
        }
        // All 200 are alive at once on this one runtime thread.
        let mut peak = 0;
        let mut running = 0;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            peak = peak.max(threads());
            running = host_pids_with(&format!("sleep {marker}")).len();
            assert!(running <= 200);
            if running == 200 {
                break;
            }
        }
        assert_eq!(running, 200, "sandboxes running at once");
        let mut outcomes = Vec::new();
        while let Some(r) = set.join_next().await {
            outcomes.push(r.expect("task"));
        }
        (outcomes, peak, t.elapsed())
    });
    assert_eq!(outcomes.len(), 200);
    for (i, o) in outcomes {
        let o = o.unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{i}: {o:?}");
        assert_eq!(stdout(&o), format!("{i}\n"));
    }
    // No thread per sandbox (allow the test harness's own threads to come and go).
    assert!(
        peak_threads <= threads_before + 3,
        "threads {threads_before} -> {peak_threads}"
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    drop(rt);
    assert!(host_pids_with(marker).is_empty());
    // The sandbox's cgroup pool keeps its leaves (and their control files) until it goes.
    drop(sb);
    assert!(
        fd_count() <= before_fds + 2,
        "fds {before_fds} -> {}",
        fd_count()
    );
}

#[test]
fn dropping_the_future_kills_the_sandbox() {
    let marker = "1618.0339";
    rt().block_on(async {
        let sb = Sandbox::builder().build().unwrap();
        let cmd = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep {marker} & sleep {marker} & wait"));
        let fut = sb.run_async(&cmd, b"");
        let r = tokio::time::timeout(Duration::from_millis(500), fut).await;
        assert!(r.is_err(), "the run should still be going");
        // The future is dropped: the sandbox was killed (and is reaped off the runtime thread).
        assert!(gone(marker).await, "{:?}", host_pids_with(marker));

        // Same through a task that is aborted.
        let sb2 = sb.clone();
        let h = tokio::spawn(async move {
            let cmd = Command::new("sleep").arg(marker);
            sb2.run_async(&cmd, b"").await
        });
        for _ in 0..100 {
            if !host_pids_with(marker).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(host_pids_with(marker).len(), 1);
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(gone(marker).await);
    });
}

#[test]
fn spawn_async_interactive_and_drop() {
    let marker = "1414.2135";
    rt().block_on(async {
        let sb = Sandbox::builder()
            .wall_time(Duration::from_secs(20))
            .build()
            .unwrap();
        let mut child = sb.spawn_async(&Command::new("cat")).await.unwrap();
        assert!(child.pid() > 1);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        stdin.write_all(b"ping\n").await.unwrap();
        let mut buf = [0u8; 5];
        stdout.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping\n");
        drop(stdin);
        let o = child.wait().await.unwrap();
        assert_eq!(o.verdict, Verdict::Ok);

        let child = sb
            .spawn_async(&Command::new("sleep").arg(marker))
            .await
            .unwrap();
        assert_eq!(host_pids_with(marker).len(), 1);
        drop(child);
        assert!(gone(marker).await);

        let sb = Sandbox::builder()
            .wall_time(Duration::from_millis(200))
            .build()
            .unwrap();
        let child = sb
            .spawn_async(&Command::new("sleep").arg(marker))
            .await
            .unwrap();
        let o = child.wait().await.unwrap();
        assert_eq!(o.verdict, Verdict::WallTimeLimit);
        assert!(host_pids_with(marker).is_empty());
    });
}
