//! `run_with_cancel`: a run its caller cancels (a server whose client went away) is killed at
//! once, reaped and cleaned up, and returns `Error::Cancelled`; a cancel that never fires
//! changes nothing. Cold sandboxes and warm cells alike.

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use runcell::{Command, Error, Input, Output, Sandbox, Verdict, WarmConfig};

fn sandbox() -> Sandbox {
    // A wall time far beyond the test's: a cancel that does not work shows as an outcome
    // (the sleep killed at its wall time), not as a slow test that still passes.
    Sandbox::builder()
        .wall_time(Duration::from_secs(120))
        .build()
        .expect("sandbox")
}

/// The program prints `started`, then sleeps; the client end is dropped once `started` was
/// read, i.e. while the program surely runs.
fn cancelled_while_running(
    run: impl FnOnce(&Command, OwnedFd, &UnixStream) -> runcell::Result<runcell::Outcome>,
) {
    let (client, server_end) = UnixStream::pair().expect("socketpair");
    let (reader, writer) = std::io::pipe().expect("pipe");
    let cmd = Command::new("sh").args(["-c", "echo started; exec sleep 100"]);
    let watcher = std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(reader).read_line(&mut line).expect("read");
        drop(client);
        line
    });
    let r = run(&cmd, OwnedFd::from(writer), &server_end);
    assert_eq!(watcher.join().expect("watcher"), "started\n");
    assert!(
        matches!(r, Err(Error::Cancelled)),
        "expected Error::Cancelled, got {r:?}"
    );
}

#[test]
fn a_cold_run_is_killed_when_its_client_goes_away() {
    let sb = sandbox();
    cancelled_while_running(|cmd, out, conn| {
        sb.run_with_cancel(
            cmd,
            Input::Bytes(b""),
            Output::Fd(out.as_fd()),
            Output::Capture,
            conn.as_fd(),
        )
    });
    // The sandbox is intact: the next run works.
    assert!(sb.run(&Command::new("true"), b"").expect("run").success());
}

#[test]
fn a_warm_run_is_killed_when_its_client_goes_away() {
    let sb = sandbox();
    let pool = sb.warm_pool(WarmConfig::new(1)).expect("pool");
    assert!(
        pool.wait_ready(1, Duration::from_secs(60)),
        "no cell got ready"
    );
    cancelled_while_running(|cmd, out, conn| {
        pool.run_with_cancel(
            cmd,
            Input::Bytes(b""),
            Output::Fd(out.as_fd()),
            Output::Capture,
            conn.as_fd(),
        )
    });
    assert!(
        pool.stats().warm_runs >= 1,
        "the job did not run in a warm cell"
    );
    assert!(pool.run(&Command::new("true"), b"").expect("run").success());
}

#[test]
fn a_cancel_that_never_fires_changes_nothing() {
    let sb = sandbox();
    let pool = sb.warm_pool(WarmConfig::new(1)).expect("pool");
    let (_client, server_end) = UnixStream::pair().expect("socketpair");
    let cmd = Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]);
    for o in [
        sb.run_with_cancel(
            &cmd,
            Input::Bytes(b"in"),
            Output::Capture,
            Output::Capture,
            server_end.as_fd(),
        ),
        pool.run_with_cancel(
            &cmd,
            Input::Bytes(b"in"),
            Output::Capture,
            Output::Capture,
            server_end.as_fd(),
        ),
    ] {
        let o = o.expect("run");
        assert_eq!((o.verdict, o.exit_code), (Verdict::ExitNonzero, Some(3)));
        assert_eq!((&o.stdout[..], &o.stderr[..]), (&b"in"[..], &b"err\n"[..]));
    }
}

#[test]
fn a_cancel_after_the_exit_changes_nothing() {
    // The client hangs up while the program exits on its own: whichever the supervisor sees
    // first, the run ends with the program's own outcome or as cancelled, never otherwise.
    let sb = sandbox();
    for _ in 0..20 {
        let (client, server_end) = UnixStream::pair().expect("socketpair");
        let cmd = Command::new("true");
        let t = std::thread::spawn(move || drop(client));
        let r = sb.run_with_cancel(
            &cmd,
            Input::Bytes(b""),
            Output::Capture,
            Output::Capture,
            server_end.as_fd(),
        );
        t.join().expect("thread");
        match r {
            Ok(o) => assert_eq!(o.verdict, Verdict::Ok),
            Err(Error::Cancelled) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}
