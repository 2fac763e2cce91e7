//! The soak harness shared by `examples/soak` (long runs, figures for the notes) and
//! `tests/soak.rs` (a short run in `cargo test`): many sandboxes from several threads, or as
//! tasks of a tokio runtime, mixing normal exits, crashes, wall and CPU timeouts, output
//! floods, memory and fork bombs, double-forked daemons and programs that close or dup their
//! stdio. Afterwards every outcome must have had the expected verdict, no process of any
//! sandbox may survive, and the host's fds, threads, mounts, cgroups and temp dirs must be back
//! to where they started.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use runcell::{Command, Profile, Sandbox, Verdict};

/// Every sandbox process of the soak carries this in its command line.
pub const MARKER: &str = "424242.5";

/// Which limit a case runs under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Ends by itself (or by the output cap).
    Normal,
    /// Ends by the wall clock: runs with the short wall-time limit.
    Timed,
}

struct Case {
    name: &'static str,
    kind: Kind,
    script: &'static str,
    expect: fn(cgroups: bool) -> &'static [Verdict],
}

const CASES: &[Case] = &[
    Case {
        name: "ok",
        kind: Kind::Normal,
        script: "echo 424242.5 >/dev/null",
        expect: |_| &[Verdict::Ok],
    },
    Case {
        name: "exit3",
        kind: Kind::Normal,
        script: "exit 3",
        expect: |_| &[Verdict::ExitNonzero],
    },
    Case {
        name: "segv",
        kind: Kind::Normal,
        script: "kill -SEGV $$",
        expect: |_| &[Verdict::Signaled],
    },
    Case {
        name: "sleep",
        kind: Kind::Timed,
        script: "sleep 424242.5",
        expect: |_| &[Verdict::WallTimeLimit],
    },
    Case {
        name: "cpu",
        kind: Kind::Normal,
        script: "while :; do :; done",
        // One second of CPU (RLIMIT_CPU); a loaded host may reach the 5 s wall time first.
        expect: |_| &[Verdict::CpuTimeLimit, Verdict::WallTimeLimit],
    },
    Case {
        name: "flood",
        kind: Kind::Normal,
        script: "yes 424242.5",
        expect: |_| &[Verdict::OutputLimit],
    },
    Case {
        name: "membomb",
        kind: Kind::Normal,
        script: "exec python3 -c 'x = bytearray(1 << 30)  # 424242.5'",
        expect: |cgroups| {
            if cgroups {
                &[Verdict::MemoryLimit]
            } else {
                &[Verdict::ExitNonzero]
            }
        },
    },
    Case {
        name: "forkbomb",
        kind: Kind::Timed,
        script: "b() { b | b & }; b; sleep 424242.5",
        expect: |_| &[Verdict::WallTimeLimit, Verdict::ExitNonzero, Verdict::Ok],
    },
    Case {
        name: "daemon",
        kind: Kind::Normal,
        script: "(setsid sleep 424242.5 &); (nohup sleep 424242.5 >/dev/null 2>&1 &); echo started",
        expect: |_| &[Verdict::Ok],
    },
    Case {
        name: "closes-stdio",
        kind: Kind::Normal,
        script: "exec 0<&- 1>&- 2>&-; sleep 0.05",
        expect: |_| &[Verdict::Ok],
    },
    Case {
        name: "dups-stdio",
        kind: Kind::Normal,
        script: "exec 3>&1 4>&2; echo out >&3; echo err >&4; exec 1>&- 2>&-; echo gone >&3",
        expect: |_| &[Verdict::Ok],
    },
];

/// What the host looks like: compared before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    pub fds: usize,
    pub threads: usize,
    pub mounts: usize,
    /// runcell's cgroup directories of this process.
    pub cgroups: Vec<String>,
    /// Entries in the host's /tmp that runcell could have left (by name: other processes
    /// on the machine, other runcell users among them, create and remove such entries
    /// meanwhile, so a leak is a name that was not there before, not a different count).
    pub tmp_entries: std::collections::BTreeSet<String>,
}

impl HostState {
    /// Nothing was left behind: the same descriptors, threads, mounts and cgroups, and no
    /// /tmp entry that was not there before.
    pub fn nothing_left_since(&self, before: &HostState) -> bool {
        (self.fds, self.threads, self.mounts, &self.cgroups)
            == (before.fds, before.threads, before.mounts, &before.cgroups)
            && self.tmp_entries.is_subset(&before.tmp_entries)
    }
}

fn count(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

/// Resident set size of this process in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `runcell-<this pid>-*` directories under this process's cgroups (v1 and v2).
fn cgroup_dirs() -> Vec<String> {
    cgroup_dirs_of(std::process::id())
}

/// `runcell-<pid>-*` directories (made by process `pid`) under this process's cgroups.
pub fn cgroup_dirs_of(pid: u32) -> Vec<String> {
    let prefix = format!("runcell-{pid}-");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut out = Vec::new();
    for m in mounts.lines() {
        let f: Vec<&str> = m.split_whitespace().collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        let (point, fstype) = (f[4], f.get(dash + 1).copied().unwrap_or(""));
        let opts = f.get(dash + 3).copied().unwrap_or("");
        for line in own.lines() {
            let mut p = line.splitn(3, ':');
            let (_, ctrls, rel) = (p.next(), p.next().unwrap_or(""), p.next().unwrap_or(""));
            let matches = match fstype {
                "cgroup2" => ctrls.is_empty(),
                "cgroup" => {
                    !ctrls.is_empty() && ctrls.split(',').all(|c| opts.split(',').any(|o| o == c))
                }
                _ => false,
            };
            if !matches {
                continue;
            }
            let dir = format!("{point}{rel}");
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&prefix) {
                        out.push(e.path().display().to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out
}

impl HostState {
    /// The state once the host has settled: exited threads have left /proc, and the reaps a
    /// dropped async run hands to the runtime's blocking pool (which hold the run's pidfd and
    /// cgroup lease until the kernel has torn the sandbox down) have finished. Ten equal
    /// readings 50 ms apart, waiting at most 60 s (a hang guard on a loaded machine, not a
    /// speed expectation).
    pub fn settled() -> HostState {
        let mut last = HostState::now();
        let mut same = 0;
        let start = Instant::now();
        while same < 10 && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(50));
            let now = HostState::now();
            if now == last {
                same += 1;
            } else {
                same = 0;
                last = now;
            }
        }
        last
    }

    pub fn now() -> HostState {
        HostState {
            fds: count("/proc/self/fd"),
            threads: count("/proc/self/task"),
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .map(|m| m.lines().count())
                .unwrap_or(0),
            cgroups: cgroup_dirs(),
            // Other processes on the machine create and remove /tmp entries meanwhile: count
            // only names runcell could have left (its staging point, anything named after it).
            tmp_entries: std::fs::read_dir("/tmp")
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with(".oldroot") || n.contains("runcell"))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Host processes that belong to a soak sandbox.
pub fn survivors() -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(c) = std::fs::read(e.path().join("cmdline"))
                && String::from_utf8_lossy(&c).contains(MARKER)
            {
                out.push(pid);
            }
        }
    }
    out
}

/// The two sandboxes of a soak: the normal one and the one with a short wall time.
pub struct Sandboxes {
    normal: Sandbox,
    timed: Sandbox,
    cgroups: bool,
}

impl Sandboxes {
    pub fn new() -> Result<Sandboxes, runcell::Error> {
        let normal = Sandbox::builder()
            .profile(Profile::named("python")?)
            .wall_time(Duration::from_secs(5))
            .cpu_time(Duration::from_secs(1))
            .memory(128 << 20)
            .pids(32)
            .output_limit(64 << 10)
            .build()?;
        let timed = normal
            .to_builder()
            .wall_time(Duration::from_millis(300))
            .build()?;
        let cgroups = normal.enforced().limit_mechanisms["memory"] != "rlimit";
        Ok(Sandboxes {
            normal,
            timed,
            cgroups,
        })
    }

    fn pick(&self, i: usize) -> (&'static Case, &Sandbox, Command) {
        let case = &CASES[i % CASES.len()];
        let sb = match case.kind {
            Kind::Normal => &self.normal,
            Kind::Timed => &self.timed,
        };
        (case, sb, Command::new("sh").arg("-c").arg(case.script))
    }
}

/// Verdict counts and the runs that ended unexpectedly.
#[derive(Debug, Default)]
pub struct Tally {
    pub verdicts: BTreeMap<String, usize>,
    pub wrong: Vec<String>,
}

impl Tally {
    fn record(&mut self, case: &Case, cgroups: bool, r: Result<runcell::Outcome, runcell::Error>) {
        let key = match r {
            Ok(o) => {
                if !(case.expect)(cgroups).contains(&o.verdict) {
                    self.wrong.push(format!("{}: {:?}", case.name, o.verdict));
                }
                o.verdict.to_string()
            }
            Err(e) => {
                self.wrong.push(format!("{}: error {e}", case.name));
                "error".to_string()
            }
        };
        *self.verdicts.entry(key).or_default() += 1;
    }
}

/// `runs` sandboxes from `threads` threads.
pub fn run_threads(sbs: &Sandboxes, runs: usize, threads: usize) -> Tally {
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= runs {
                        break;
                    }
                    let (case, sb, cmd) = sbs.pick(i);
                    let r = sb.run(&cmd, b"");
                    if let Ok(mut t) = tally.lock() {
                        t.record(case, sbs.cgroups, r);
                    }
                }
            });
        }
    });
    tally.into_inner().unwrap_or_default()
}

/// `runs` sandboxes as tasks of a two-thread tokio runtime, `concurrent` at a time.
#[cfg(feature = "tokio")]
pub fn run_async(sbs: &Sandboxes, runs: usize, concurrent: usize) -> Tally {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let tally = rt.block_on(async {
        let mut tally = Tally::default();
        let mut set = tokio::task::JoinSet::new();
        let mut next = 0;
        loop {
            while next < runs && set.len() < concurrent {
                let (case, sb, cmd) = sbs.pick(next);
                let sb = sb.clone();
                set.spawn(async move { (case, sb.run_async(&cmd, b"").await) });
                next += 1;
            }
            match set.join_next().await {
                Some(Ok((case, r))) => tally.record(case, sbs.cgroups, r),
                Some(Err(e)) => tally.wrong.push(format!("task: {e}")),
                None => break,
            }
        }
        tally
    });
    drop(rt);
    tally
}

/// A finished soak, for printing and checking.
#[derive(Debug)]
pub struct Soak {
    pub runs: usize,
    pub elapsed: Duration,
    pub tally: Tally,
    pub before: HostState,
    pub after: HostState,
    pub rss_before: u64,
    pub rss_after: u64,
    pub survivors: Vec<u32>,
}

impl Soak {
    /// Warm up, take the baseline, run `f` with fresh sandboxes, drop them, compare.
    pub fn measure(runs: usize, f: impl FnOnce(&Sandboxes) -> Tally) -> Soak {
        // Lazily opened host resources (caches, the allocator's arenas) settle in a warm-up.
        if let Ok(sbs) = Sandboxes::new() {
            let _ = run_threads(&sbs, CASES.len(), 2);
        }
        // So does the process-wide state of tokio's drivers (its signal driver keeps a
        // socketpair for the life of the process once any runtime with it has started).
        #[cfg(feature = "tokio")]
        if let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
        {
            rt.block_on(async {});
        }
        let before = HostState::settled();
        let rss_before = rss_kib();
        let start = Instant::now();
        let tally = match Sandboxes::new() {
            Ok(sbs) => f(&sbs),
            Err(e) => Tally {
                wrong: vec![format!("build: {e}")],
                ..Tally::default()
            },
        };
        let elapsed = start.elapsed();
        Soak {
            runs,
            elapsed,
            tally,
            after: HostState::settled(),
            before,
            rss_before,
            rss_after: rss_kib(),
            survivors: survivors(),
        }
    }

    pub fn ok(&self, rss_slack_kib: u64) -> bool {
        self.tally.wrong.is_empty()
            && self.survivors.is_empty()
            && self.after.nothing_left_since(&self.before)
            && self.rss_after <= self.rss_before + rss_slack_kib
    }

    pub fn print(&self) {
        println!(
            "runs={} elapsed={:.1?} runs/s={:.0}",
            self.runs,
            self.elapsed,
            self.runs as f64 / self.elapsed.as_secs_f64()
        );
        println!("verdicts: {:?}", self.tally.verdicts);
        let (b, a) = (&self.before, &self.after);
        println!(
            "fds {}->{} threads {}->{} mounts {}->{} cgroup dirs {}->{} /tmp entries {}->{}",
            b.fds,
            a.fds,
            b.threads,
            a.threads,
            b.mounts,
            a.mounts,
            b.cgroups.len(),
            a.cgroups.len(),
            b.tmp_entries.len(),
            a.tmp_entries.len()
        );
        println!(
            "host RSS {} KiB -> {} KiB; surviving sandbox processes: {}",
            self.rss_before,
            self.rss_after,
            self.survivors.len()
        );
        for w in self.tally.wrong.iter().take(10) {
            println!("unexpected: {w}");
        }
    }
}
