//! `/bin/true` from a warm cell beside bare fork+exec+wait, measured interleaved: every round
//! waits for a full pool (not timed, as in `benches/spawn.rs`), then runs bare and warm once
//! each in alternating order, so load drift hits both alike.
//!
//! Prints, per variant, the wall time (median, 20%-trimmed mean, 10th percentile) and the CPU
//! time of the calling thread per run, how often a warm run's calling thread slept (each
//! sleep is a wake-up, across cores when the other one is idle: expensive on a VM); then the
//! ratio warm / bare of the medians. `warm_probe ROUNDS warm` runs warm only (for profiles);
//! `PROBE_MARK=1` renames the thread around each warm run (`task:task_rename` marks for perf).
//!
//! ```text
//! cargo run --release --example warm_probe -- [ROUNDS]
//! chrt -f 10 target/release/examples/warm_probe 2000
//! ```

use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use runcell::{Command, Sandbox, Verdict, WarmConfig};

/// Voluntary context switches of the calling thread so far (each a sleep and a wake-up).
fn thread_sleeps() -> i64 {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD is valid and the struct is writable.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    ru.ru_nvcsw
}

fn thread_cpu() -> Duration {
    // SAFETY: timespec is plain data; clock_gettime writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// With PROBE_MARK set, rename the thread (a `task:task_rename` event for perf) around each
/// warm run.
fn mark(name: &[u8]) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("PROBE_MARK").is_some()) {
        // SAFETY: a NUL-terminated name of at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    }
}

fn bare() {
    let st = StdCommand::new("/bin/true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(st.success());
}

fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let cut = v.len() / 5;
    let kept = &v[cut..v.len() - cut];
    (
        v[v.len() / 2],
        kept.iter().sum::<f64>() / kept.len() as f64,
        v[v.len() / 10],
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    // `warm`: warm runs only (for profiling the host's side).
    let only_warm = std::env::args().nth(2).as_deref() == Some("warm");
    let sb = Sandbox::builder().build().expect("sandbox");
    let pool = sb.warm_pool(WarmConfig::new(2)).expect("pool");
    let t = Command::new("/bin/true");
    let (mut wb, mut ww, mut cb, mut cw) = (vec![], vec![], vec![], vec![]);
    let mut sleeps: Vec<f64> = vec![];
    for i in 0..rounds + 20 {
        assert!(pool.wait_ready(2, Duration::from_secs(60)));
        let mut one = |warm: bool| {
            let (s0, c0, t0) = (thread_sleeps(), thread_cpu(), Instant::now());
            if warm {
                mark(b"mark-begin\0");
                let o = pool.run(&t, b"").expect("run");
                mark(b"mark-end\0");
                assert_eq!(o.verdict, Verdict::Ok);
            } else {
                bare();
            }
            let (w, c) = (t0.elapsed(), thread_cpu() - c0);
            if i >= 20 && warm {
                sleeps.push((thread_sleeps() - s0) as f64);
            }
            if i >= 20 {
                let (wv, cv) = if warm {
                    (&mut ww, &mut cw)
                } else {
                    (&mut wb, &mut cb)
                };
                wv.push(w.as_secs_f64() * 1e6);
                cv.push(c.as_secs_f64() * 1e6);
            }
        };
        if only_warm {
            one(true);
        } else if i % 2 == 0 {
            one(false);
            one(true);
        } else {
            one(true);
            one(false);
        }
    }
    assert_eq!(pool.stats().cold_runs, 0);
    for (name, w, c) in [("bare", &mut wb, &mut cb), ("warm", &mut ww, &mut cw)] {
        if w.is_empty() {
            continue;
        }
        let (m, tm, p10) = stats(w);
        let (cm, _, _) = stats(c);
        println!(
            "{name}: wall median {m:.0} us, trimmed mean {tm:.0} us, p10 {p10:.0} us; \
             calling thread CPU median {cm:.0} us"
        );
    }
    println!(
        "warm: calling thread sleeps per run: mean {:.2}",
        sleeps.iter().sum::<f64>() / sleeps.len().max(1) as f64
    );
    if wb.is_empty() {
        return;
    }
    let (mb, _, _) = stats(&mut wb);
    let (mw, _, _) = stats(&mut ww);
    println!("warm / bare (medians): {:.2}", mw / mb);
}
