//! Run a Python snippet (from the first argument, or a default) in the python profile and print
//! the outcome.
//!
//! `cargo run --example run_snippet -- 'print(sum(range(10)))'`

use std::time::Duration;

use runcell::{Command, Profile, Sandbox};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let code = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "import platform\nprint('hello from', platform.node())".into());
    let sandbox = Sandbox::builder()
        .profile(Profile::named("python")?)
        .wall_time(Duration::from_secs(5))
        .build()?;
    let outcome = sandbox.run(&Command::new("python3").arg("-"), code.as_bytes())?;
    print!("{}", String::from_utf8_lossy(&outcome.stdout));
    eprint!("{}", String::from_utf8_lossy(&outcome.stderr));
    eprintln!(
        "verdict={} exit={:?} wall={:?} cpu={:?} rss={} KiB",
        outcome.verdict,
        outcome.exit_code,
        outcome.wall_time,
        outcome.cpu_time,
        outcome.max_rss_kib
    );
    Ok(())
}
