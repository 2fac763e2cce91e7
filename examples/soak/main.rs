//! Soak test: many sandboxes from several threads (and, with the `tokio` feature, as tasks of
//! one runtime), mixing normal exits, crashes, timeouts, output floods, memory and fork bombs,
//! double-forked daemons and programs that close or dup their stdio; then checks verdicts,
//! survivors, and the host's fds, threads, mounts, cgroups, temp dirs and RSS.
//!
//! `cargo run --release --example soak -- [RUNS] [THREADS]` (defaults: 2000 runs, 8 threads)
//! `cargo run --release --features tokio --example soak -- RUNS CONCURRENT async`

mod harness;

use harness::Soak;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize| std::env::args().nth(n);
    let runs: usize = arg(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let width: usize = arg(2).and_then(|a| a.parse().ok()).unwrap_or(8);
    let mode = arg(3).unwrap_or_else(|| "threads".into());
    let soak = match mode.as_str() {
        "threads" => {
            println!("mode=threads threads={width}");
            Soak::measure(runs, |s| harness::run_threads(s, runs, width))
        }
        #[cfg(feature = "tokio")]
        "async" => {
            println!("mode=async concurrent={width} (tokio, 2 worker threads)");
            Soak::measure(runs, |s| harness::run_async(s, runs, width))
        }
        other => {
            return Err(
                format!("unknown mode {other} (threads, or async with --features tokio)").into(),
            );
        }
    };
    soak.print();
    // RSS: allocator arenas of the worker threads settle within a few MiB.
    let ok = soak.ok(8 << 10);
    println!("{}", if ok { "SOAK OK" } else { "SOAK FAILED" });
    if ok {
        Ok(())
    } else {
        Err("soak failed".into())
    }
}
