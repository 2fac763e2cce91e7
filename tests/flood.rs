//! A flood of output is cut at the cap without the host buffering it (its own binary: it
//! measures this process's memory).

mod common;
use std::time::Duration;

use common::rss_kib;

use runcell::{Command, Output, Sandbox, Verdict};

#[test]
fn gigabyte_flood_gets_output_limit_with_bounded_host_memory() {
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(30))
        .build()
        .unwrap();
    sb.run(&Command::new("true"), b"").unwrap();
    let before = rss_kib();
    let o = sb
        .run(&Command::new("head").args(["-c", "1G", "/dev/zero"]), b"")
        .unwrap();
    assert_eq!(o.verdict, Verdict::OutputLimit);
    assert!(o.stdout_truncated);
    assert_eq!(o.stdout.len(), 1 << 20);
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 4 * 1024,
        "host RSS grew by {grown} KiB for a 1 MiB cap"
    );

    // Streaming to a host fd: nothing is kept, the cap still holds.
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    use std::os::fd::AsFd;
    let o = sb
        .run_with(
            &Command::new("head").args(["-c", "1G", "/dev/zero"]),
            runcell::Input::Bytes(b""),
            Output::Fd(null.as_fd()),
            Output::Capture,
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::OutputLimit);
    assert_eq!(o.stdout_bytes, 1 << 20);
    assert!(o.stdout.is_empty());
}
