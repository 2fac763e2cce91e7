//! Soak test: many sandboxes from several threads, mixing normal exits, crashes, timeouts,
//! output floods, memory and fork bombs, double-forked daemons and programs that close or dup
//! their stdio. Afterwards it checks that every outcome had the expected verdict, that no
//! process of any sandbox survived, and that the host's fds, threads and mounts are back to
//! where they started; it prints runs/s, verdict counts and host RSS before/after.
//!
//! `cargo run --release --example soak -- [RUNS] [THREADS]` (defaults: 2000 runs, 8 threads)

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runcell::{Command, Profile, Sandbox, Verdict};

struct Case {
    name: &'static str,
    /// Ends by the wall clock: run it in the sandbox with the short wall-time limit.
    timed: bool,
    cmd: fn() -> Command,
    expect: &'static [Verdict],
}

const MARKER: &str = "424242.5";

fn sh(script: &'static str) -> Command {
    Command::new("sh").arg("-c").arg(script)
}

const CASES: &[Case] = &[
    Case {
        name: "true",
        timed: false,
        cmd: || Command::new("true"),
        expect: &[Verdict::Ok],
    },
    Case {
        name: "exit3",
        timed: false,
        cmd: || sh("exit 3"),
        expect: &[Verdict::ExitNonzero],
    },
    Case {
        name: "segv",
        timed: false,
        cmd: || sh("kill -SEGV $$"),
        expect: &[Verdict::Signaled],
    },
    Case {
        name: "sleep",
        timed: true,
        cmd: || Command::new("sleep").arg("5"),
        expect: &[Verdict::WallTimeLimit],
    },
    Case {
        name: "spin",
        timed: true,
        cmd: || sh("while :; do :; done"),
        expect: &[Verdict::CpuTimeLimit, Verdict::WallTimeLimit],
    },
    Case {
        name: "flood",
        timed: false,
        cmd: || Command::new("yes"),
        expect: &[Verdict::OutputLimit],
    },
    Case {
        name: "membomb",
        timed: false,
        cmd: || {
            Command::new("python3")
                .arg("-c")
                .arg("x = bytearray(1 << 30)")
        },
        expect: &[Verdict::ExitNonzero, Verdict::MemoryLimit],
    },
    Case {
        name: "forkbomb",
        timed: true,
        cmd: || sh("b() { b | b & }; b; sleep 5"),
        expect: &[Verdict::WallTimeLimit, Verdict::ExitNonzero, Verdict::Ok],
    },
    Case {
        name: "daemon",
        timed: false,
        cmd: || sh("(setsid sleep 424242.5 &); echo started"),
        expect: &[Verdict::Ok],
    },
    Case {
        name: "closes-stdio",
        timed: false,
        cmd: || sh("exec 0<&- 1>&- 2>&-; sleep 0.05"),
        expect: &[Verdict::Ok],
    },
    Case {
        name: "dups-stdio",
        timed: false,
        cmd: || sh("exec 3>&1 4>&2; echo out >&3; echo err >&4"),
        expect: &[Verdict::Ok],
    },
];

fn count(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn survivors() -> usize {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let p = e.path().join("cmdline");
            if let Ok(c) = std::fs::read(p)
                && String::from_utf8_lossy(&c).contains(MARKER)
            {
                n += 1;
            }
        }
    }
    n
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let threads: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8);
    let sandbox = Sandbox::builder()
        .profile(Profile::named("python")?)
        .wall_time(Duration::from_secs(5))
        .cpu_time(Duration::from_secs(1))
        .memory(128 << 20)
        .pids(32)
        .output_limit(64 << 10)
        .build()?;
    let short = sandbox
        .to_builder()
        .wall_time(Duration::from_millis(300))
        .build()?;
    // Warm up lazily opened host resources before taking the baseline.
    sandbox.run(&Command::new("true"), b"")?;
    let (fds0, threads0, mounts0, rss0) = (
        count("/proc/self/fd"),
        count("/proc/self/task"),
        std::fs::read_to_string("/proc/self/mountinfo")?
            .lines()
            .count(),
        rss_kib(),
    );
    let next = AtomicUsize::new(0);
    let verdicts: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let wrong: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= runs {
                        break;
                    }
                    let case = &CASES[i % CASES.len()];
                    let sb = if case.timed { &short } else { &sandbox };
                    let key = match sb.run(&(case.cmd)(), b"") {
                        Ok(o) => {
                            if !case.expect.contains(&o.verdict)
                                && let Ok(mut w) = wrong.lock()
                            {
                                w.push(format!("{}: {:?}", case.name, o.verdict));
                            }
                            o.verdict.to_string()
                        }
                        Err(e) => {
                            if let Ok(mut w) = wrong.lock() {
                                w.push(format!("{}: error {e}", case.name));
                            }
                            "error".to_string()
                        }
                    };
                    if let Ok(mut v) = verdicts.lock() {
                        *v.entry(key).or_default() += 1;
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let (fds1, threads1, mounts1, rss1) = (
        count("/proc/self/fd"),
        count("/proc/self/task"),
        std::fs::read_to_string("/proc/self/mountinfo")?
            .lines()
            .count(),
        rss_kib(),
    );
    let left = survivors();
    println!(
        "runs={runs} threads={threads} elapsed={elapsed:.1?} runs/s={:.0}",
        runs as f64 / elapsed.as_secs_f64()
    );
    println!(
        "verdicts: {:?}",
        verdicts.lock().map(|v| v.clone()).unwrap_or_default()
    );
    println!("fds {fds0}->{fds1} threads {threads0}->{threads1} mounts {mounts0}->{mounts1}");
    println!("host RSS {rss0} KiB -> {rss1} KiB; surviving sandbox processes: {left}");
    let wrong = wrong.lock().map(|w| w.clone()).unwrap_or_default();
    for w in wrong.iter().take(10) {
        println!("unexpected: {w}");
    }
    let ok =
        wrong.is_empty() && left == 0 && fds0 == fds1 && threads0 == threads1 && mounts0 == mounts1;
    println!("{}", if ok { "SOAK OK" } else { "SOAK FAILED" });
    if ok {
        Ok(())
    } else {
        Err("soak failed".into())
    }
}
