//! The tokio API: results match the blocking API, many sandboxes share one runtime thread, and
//! dropping a future or a child kills and reaps the sandbox.
//!
//! Nothing here depends on how fast the machine is: sandboxes that must be alive at the same
//! time wait on a gate the test opens, and waits for an event are bounded only by the hang
//! guard `common::HANG`.

mod common;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::time::{Duration, Instant};

use common::*;
use runcell::{Command, Error, Sandbox, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The tests of this binary run one at a time: one of them counts the process's threads and
/// descriptors, which a sibling test running at the same time would change.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Wait on the runtime until `cond` holds, or panic naming `what` after the hang guard.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "hang: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Killed sandboxes are reaped in the background: wait until none is left.
async fn gone(marker: &str) -> bool {
    until(&format!("processes with {marker} reaped"), || {
        host_pids_with(marker).is_empty()
    })
    .await;
    true
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn run_async_matches_run() {
    let _serial = serial();
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
    let _serial = serial();
    rt().block_on(async {
        let sb = Sandbox::builder()
            .wall_time(Duration::from_millis(300))
            .build()
            .unwrap();
        let o = sb
            .run_async(&Command::new("sleep").arg("30"), b"")
            .await
            .unwrap();
        assert_eq!(o.verdict, Verdict::WallTimeLimit);
        assert_eq!(o.signal, Some(libc::SIGKILL));
        assert!(
            o.wall_time >= Duration::from_millis(300),
            "{:?}",
            o.wall_time
        );

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
    let _serial = serial();
    const N: usize = 200;
    // Each sandbox blocks reading its own FIFO (no CPU, no clock) until the test opens it, so
    // all N are alive at once however slowly they start. Only the shell's command line has
    // the marker.
    let marker = "gate-3.14159";
    let gates = tempfile::tempdir().unwrap();
    std::fs::set_permissions(gates.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for i in 0..N {
        let fifo = std::ffi::CString::new(format!("{}/{i}", gates.path().display())).unwrap();
        // SAFETY: a valid C string; mkfifo has no other preconditions.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);
        // The umask may have removed bits: the sandbox's uid must be able to read it.
        std::fs::set_permissions(
            gates.path().join(i.to_string()),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
    }
    // Process-wide state made on first use (the launcher threads, the init memfd) is not
    // per sandbox: create it before counting.
    Sandbox::builder()
        .build()
        .unwrap()
        .run(&Command::new("true"), b"")
        .unwrap();
    let before_fds = fd_count();
    let rt = rt();
    let sb = Sandbox::builder()
        .wall_time(HANG)
        .ro_bind(gates.path(), "/gates")
        .build()
        .unwrap();
    let threads_before = threads();
    let (outcomes, peak_threads) = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..N {
            let sb = sb.clone();
            set.spawn(async move {
                let cmd = Command::new("sh")
                    .arg("-c")
                    .arg(format!("read x < /gates/{i}; echo $x {i} # {marker}"));
                (i, sb.run_async(&cmd, b"").await)
            });
        }
        // All N are alive at once on this one runtime thread.
        let mut peak = 0;
        until("all sandboxes running at once", || {
            peak = peak.max(threads());
            let running = host_pids_with(marker).len();
            assert!(running <= N);
            running == N
        })
        .await;
        // Open the gates: each FIFO gets a line once its reader has it open.
        let mut open = [false; N];
        until("every gate opened", || {
            for (i, done) in open.iter_mut().enumerate().filter(|(_, d)| !**d) {
                let w = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(gates.path().join(i.to_string()));
                // ENXIO: the reader has not opened its end yet.
                if let Ok(mut w) = w {
                    use std::io::Write;
                    w.write_all(b"go\n").unwrap();
                    *done = true;
                }
            }
            open.iter().all(|d| *d)
        })
        .await;
        let mut outcomes = Vec::new();
        while let Some(r) = set.join_next().await {
            outcomes.push(r.expect("task"));
        }
        (outcomes, peak)
    });
    assert_eq!(outcomes.len(), N);
    for (i, o) in outcomes {
        let o = o.unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{i}: {o:?}");
        assert_eq!(stdout(&o), format!("go {i}\n"));
    }
    // No thread per sandbox (allow the test harness's own threads to come and go).
    assert!(
        peak_threads <= threads_before + 3,
        "threads {threads_before} -> {peak_threads}"
    );
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
    let _serial = serial();
    let marker = "1618.0339";
    rt().block_on(async {
        let sb = Sandbox::builder().build().unwrap();
        let cmd = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep {marker} & sleep {marker} & wait"));
        let mut fut = Box::pin(sb.run_async(&cmd, b""));
        // Drive the run until both sleeps exist (the run cannot end before: they sleep for
        // half an hour), then drop it.
        let start = Instant::now();
        while host_pids_with(marker).len() < 2 {
            assert!(start.elapsed() < HANG, "hang: sleeps never started");
            tokio::select! {
                r = &mut fut => panic!("the run ended: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
        drop(fut);
        // The future is dropped: the sandbox was killed (and is reaped off the runtime thread).
        assert!(gone(marker).await, "{:?}", host_pids_with(marker));

        // Same through a task that is aborted.
        let sb2 = sb.clone();
        let h = tokio::spawn(async move {
            let cmd = Command::new("sleep").arg(marker);
            sb2.run_async(&cmd, b"").await
        });
        until("the sleep started", || !host_pids_with(marker).is_empty()).await;
        assert_eq!(host_pids_with(marker).len(), 1);
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(gone(marker).await);
    });
}

#[test]
fn spawn_async_interactive_and_drop() {
    let _serial = serial();
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
        // spawn_async returns once the program is executing; /proc shows its new command line
        // once execve has finished replacing the image, which the test waits for.
        until("the sleep is visible", || host_pids_with(marker).len() == 1).await;
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

fn assert_send<T: Send>(_: &T) {}

/// The warm pool's async API: plain and preloaded cells, a cell's own job directory, several
/// jobs in flight on one runtime thread, and a dropped future that kills its job and leaves
/// nothing (no process, no job directory).
#[test]
fn warm_pool_async() {
    use runcell::{Job, WarmConfig};
    let _serial = serial();
    rt().block_on(async {
        let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
        let pool = sb.warm_pool(WarmConfig::new(3).workspace("/box")).unwrap();
        let sh = |s: &str| Command::new("sh").arg("-c").arg(s);
        let t = sh("true");
        let f = pool.run_async(&t, b"");
        assert_send(&f);
        drop(f);
        assert!(pool.wait_ready(3, HANG));
        let o = pool
            .run_async(&sh("cat; pwd; ls -A"), b"hi\n")
            .await
            .unwrap();
        assert_eq!(
            (o.verdict, stdout(&o).as_str()),
            (Verdict::Ok, "hi\n/box\n")
        );
        // Three at once on this one thread.
        assert!(pool.wait_ready(3, HANG));
        let (echo, four) = (sh("cat; echo \" $$\""), sh("cat; exit 4"));
        let (a, b, c) = tokio::join!(
            pool.run_async(&echo, b"a"),
            pool.run_async(&echo, b"b"),
            pool.run_async(&four, b"c"),
        );
        assert_eq!(stdout(&a.unwrap()), "a 2\n");
        assert_eq!(stdout(&b.unwrap()), "b 2\n");
        assert_eq!(c.unwrap().exit_code, Some(4));
        // A cell with the caller's files.
        assert!(pool.wait_ready(3, HANG));
        let cell = pool.cell_async().await.unwrap();
        cell.workspace().unwrap().write("f.txt", b"data").unwrap();
        let o = cell
            .run_async(&Command::new("cat").arg("f.txt"), b"")
            .await
            .unwrap();
        assert_eq!(stdout(&o), "data");
        // Dropped mid-job: the job is killed, its cell reaped, its directory removed.
        assert!(pool.wait_ready(3, HANG));
        let cell = pool.cell_async().await.unwrap();
        let dir = cell
            .workspace()
            .unwrap()
            .path()
            .parent()
            .unwrap()
            .to_path_buf();
        let r = tokio::time::timeout(
            Duration::from_millis(300),
            cell.run_async(&sh("sleep 7777.2468"), b""),
        )
        .await;
        assert!(r.is_err(), "{r:?}");
        assert!(gone("7777.2468").await);
        until("the job directory's removal", || !dir.exists()).await;
        let stats = pool.stats();
        assert_eq!(stats.cold_runs, 0, "{stats:?}");
        // Preloaded, framed.
        let py = python_builder().build().unwrap();
        let ppool = py.warm_pool(WarmConfig::new(1).python(&[])).unwrap();
        let job = Job::new("import sys; print(sys.argv[1:], sys.stdin.read())")
            .script("s.py")
            .arg("x");
        let o = ppool.run_job_async(&job, b"in").await.unwrap();
        assert_eq!(stdout(&o), "['x'] in\n", "{}", stderr(&o));
        assert!(ppool.wait_ready(1, HANG));
        let spin = Job::new("import sys\nprint('up', flush=True)\nwhile True: pass\n");
        let r =
            tokio::time::timeout(Duration::from_millis(500), ppool.run_job_async(&spin, b"")).await;
        assert!(r.is_err(), "{r:?}");
        drop((pool, ppool));
        // Reaped, not only killed: no zombie init either (a non-blocking pidfd, registered
        // with the reactor, once made the reap return EAGAIN and leave one).
        until("every cell reaped", || sandbox_inits().is_empty()).await;
        let r = tokio::time::timeout(
            Duration::from_millis(300),
            sb.run_async(&sh("sleep 7777.1357"), b""),
        )
        .await;
        assert!(r.is_err(), "{r:?}");
        until("the cold run reaped", || sandbox_inits().is_empty()).await;
    });
}
