//! Spawn latency and throughput of the full default sandbox, each beside the bare baseline
//! (fork + exec + wait of the same program) measured in the same run.
//!
//! `cargo bench --bench spawn` (`--features tokio` adds the async API's throughput). The
//! `spawn_true_host_*` groups run `/bin/true` from a host holding 10 MiB and 1 GiB, each beside
//! libc fork+exec+wait and std's Command: runcell's figure must not grow with the host. Goals
//! (issue 11): `/bin/true` at most 3.0x bare, Python hello world at most bare + 2.5 ms, >= 500
//! sandboxed `/bin/true` per second on 2 cores (`throughput_2_threads/runcell_true` at most
//! 2 ms per run), `build/sandbox_default` under 0.5 ms; `/bin/true` from a warm pool
//! (`runcell_warm`) at most 1.5x bare, python hello from a preloaded cell at most 5 ms (also
//! `runcell_python_preloaded_job_dir`: a framed job with its source written to the cell's own
//! job directory, the service's path), `import numpy` preloaded at most 15 ms.

use std::cell::RefCell;
use std::hint::black_box;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use runcell::{CgroupMode, Command, Profile, Sandbox, Verdict, WarmConfig, WarmPool};

fn bare(program: &str, args: &[&str], stdin: Option<&[u8]>) {
    use std::io::Write;
    let mut c = StdCommand::new(program);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    } else {
        c.stdin(Stdio::null());
    }
    let mut child = c.spawn().expect("spawn");
    if let (Some(data), Some(mut s)) = (stdin, child.stdin.take()) {
        let _ = s.write_all(data);
    }
    let st = child.wait().expect("wait");
    assert!(st.success());
}

fn spawn_latency(c: &mut Criterion) {
    let sb = Sandbox::builder().build().expect("sandbox");
    // What the cgroup pool (join + accounting per run) costs, where cgroups are in use.
    let no_cg = Sandbox::builder()
        .cgroups(CgroupMode::Off)
        .build()
        .expect("sandbox");
    // Every run's clone makes its network namespace (a root host otherwise joins one made
    // ahead of time on a background thread; an unprivileged host always clones its own).
    let own_netns = Sandbox::builder()
        .network_namespace_pool(false)
        .build()
        .expect("sandbox");
    let py = Sandbox::builder()
        .profile(Profile::named("python").expect("python"))
        .build()
        .expect("sandbox");
    let t = Command::new("/bin/true");
    let hello = Command::new("python3").arg("-");
    let code = b"print('hello')\n";

    let mut g = c.benchmark_group("spawn_true");
    g.sample_size(200);
    g.bench_function("bare_fork_exec_wait", |b| {
        b.iter(|| bare("/bin/true", &[], None))
    });
    g.bench_function("runcell_default", |b| {
        b.iter(|| {
            let o = sb.run(black_box(&t), b"").expect("run");
            assert_eq!(o.verdict, Verdict::Ok);
        })
    });
    g.bench_function("runcell_default_cgroups_off", |b| {
        b.iter(|| {
            let o = no_cg.run(black_box(&t), b"").expect("run");
            assert_eq!(o.verdict, Verdict::Ok);
        })
    });
    g.bench_function("runcell_default_netns_per_clone", |b| {
        b.iter(|| {
            let o = own_netns.run(black_box(&t), b"").expect("run");
            assert_eq!(o.verdict, Verdict::Ok);
        })
    });
    let pool = sb.warm_pool(WarmConfig::new(2)).expect("warm pool");
    g.bench_function("runcell_warm", |b| {
        b.iter_custom(|iters| warm_runs(&pool, &t, b"", iters, b""))
    });
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
    drop(pool);
    g.finish();

    ratio_true(c, &sb, &t);

    let mut g = c.benchmark_group("spawn_python_hello");
    g.sample_size(60);
    g.bench_function("bare_python3_stdin", |b| {
        b.iter(|| bare("/usr/bin/python3", &["-"], Some(code)))
    });
    g.bench_function("runcell_python", |b| {
        b.iter(|| {
            let o = py.run(black_box(&hello), code).expect("run");
            assert_eq!(o.stdout, b"hello\n");
        })
    });
    // A warm cell saves the sandbox's setup, not the interpreter's start.
    let pool = py.warm_pool(WarmConfig::new(2)).expect("warm pool");
    g.bench_function("runcell_python_warm", |b| {
        b.iter_custom(|iters| warm_runs(&pool, &hello, code, iters, b"hello\n"))
    });
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
    drop(pool);
    // Preloaded: the interpreter is already running, the code arrives on stdin.
    let pool = py
        .warm_pool(WarmConfig::new(2).python(&[]))
        .expect("warm pool");
    let pre = pool.preload_command().expect("preload").clone();
    g.bench_function("runcell_python_preloaded", |b| {
        b.iter_custom(|iters| warm_runs(&pool, &pre, code, iters, b"hello\n"))
    });
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
    drop(pool);
    // The service's path: a framed job (source, argv, its own stdin) in a preloaded cell with
    // a job directory of its own, the source written there first.
    let pool = py
        .warm_pool(WarmConfig::new(2).python(&[]).workspace("/box"))
        .expect("warm pool");
    g.bench_function("runcell_python_preloaded_job_dir", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                assert!(
                    pool.wait_ready(2, Duration::from_secs(60)),
                    "pool never refilled"
                );
                let t0 = Instant::now();
                let cell = pool.cell().expect("cell");
                let ws = cell.workspace().expect("workspace");
                ws.write("script.py", b"print(input())\n").expect("write");
                let job = runcell::Job::new(&b"print(input())\n"[..]).script("script.py");
                let o = cell.run_job(&job, b"hello\n").expect("run");
                total += t0.elapsed();
                assert_eq!(o.stdout, b"hello\n");
            }
            total
        })
    });
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
    drop(pool);
    g.finish();
    numpy(c);
}

/// Per-run wall times of both sides of `ratio_true`, one entry each per pair.
#[derive(Default)]
struct Pairs {
    bare: Vec<f64>,
    runcell: Vec<f64>,
}

/// `iters` pairs of one bare and one sandboxed `/bin/true`, the order swapped every pair (so
/// neither side always runs right after the other's teardown); returns the time of the side
/// `time_runcell` picks and records both.
fn pairs(
    sb: &Sandbox,
    t: &Command,
    iters: u64,
    time_runcell: bool,
    rec: &RefCell<Pairs>,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut rec = rec.borrow_mut();
    for i in 0..iters {
        let (mut tb, mut tr) = (Duration::ZERO, Duration::ZERO);
        for runcell in [i % 2 == 0, i % 2 != 0] {
            let t0 = Instant::now();
            if runcell {
                let o = sb.run(black_box(t), b"").expect("run");
                tr = t0.elapsed();
                assert_eq!(o.verdict, Verdict::Ok);
            } else {
                bare("/bin/true", &[], None);
                tb = t0.elapsed();
            }
        }
        rec.bare.push(tb.as_secs_f64());
        rec.runcell.push(tr.as_secs_f64());
        total += if time_runcell { tr } else { tb };
    }
    total
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `ratio_true`: the `/bin/true` goal (runcell at most 3.0x bare) with both sides in the same
/// machine state. Each function times its own side of alternating pairs; the medians over
/// every pair either function took (warm-up included) and their ratio are printed after the
/// group, beside the median of the per-pair ratios.
fn ratio_true(c: &mut Criterion, sb: &Sandbox, t: &Command) {
    let rec = RefCell::new(Pairs::default());
    let mut g = c.benchmark_group("ratio_true");
    g.sample_size(100);
    g.bench_function("bare_fork_exec_wait", |b| {
        b.iter_custom(|iters| pairs(sb, t, iters, false, &rec))
    });
    g.bench_function("runcell_default", |b| {
        b.iter_custom(|iters| pairs(sb, t, iters, true, &rec))
    });
    g.finish();
    let Pairs {
        mut bare,
        mut runcell,
    } = rec.into_inner();
    if bare.is_empty() {
        return;
    }
    let mut ratios: Vec<f64> = runcell.iter().zip(&bare).map(|(r, b)| r / b).collect();
    let (mb, mr) = (median(&mut bare), median(&mut runcell));
    println!(
        "ratio_true: {} alternating pairs: bare {:.3} ms, runcell {:.3} ms (medians); \
         ratio of the medians {:.2}x, median per-pair ratio {:.2}x (goal <= 3.00x)",
        ratios.len(),
        mb * 1e3,
        mr * 1e3,
        mr / mb,
        median(&mut ratios)
    );
}

/// `import numpy` with numpy preloaded, from a venv whose path is in
/// `RUNCELL_BENCH_NUMPY_VENV` (made by benches/numpy_venv.sh: pip's numpy in a venv of the
/// system python), bound read-only at the same path; beside the venv's python cold, outside
/// any sandbox, and a cold sandboxed run.
fn numpy(c: &mut Criterion) {
    let Some(venv) = std::env::var_os("RUNCELL_BENCH_NUMPY_VENV") else {
        println!(
            "spawn_python_numpy: skipped (set RUNCELL_BENCH_NUMPY_VENV, see benches/numpy_venv.sh)"
        );
        return;
    };
    let venv = std::path::PathBuf::from(venv);
    let bin = venv.join("bin");
    let sb = Sandbox::builder()
        .profile(Profile::named("python").expect("python"))
        .ro_bind(&venv, &venv)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .memory(512 << 20)
        .build()
        .expect("sandbox");
    let code = b"import numpy\nprint(int(numpy.arange(4).sum()))\n";
    let mut g = c.benchmark_group("spawn_python_numpy");
    g.sample_size(30);
    let py = bin.join("python3");
    g.bench_function("bare_venv_python3", |b| {
        b.iter(|| bare(py.to_str().expect("utf-8 path"), &["-"], Some(code)))
    });
    let cold = Command::new("python3").arg("-");
    g.bench_function("runcell_cold", |b| {
        b.iter(|| {
            let o = sb.run(black_box(&cold), code).expect("run");
            assert_eq!(o.stdout, b"6\n");
        })
    });
    let pool = sb
        .warm_pool(WarmConfig::new(2).python(&["numpy"]))
        .expect("warm pool");
    let pre = pool.preload_command().expect("preload").clone();
    g.bench_function("runcell_numpy_preloaded", |b| {
        b.iter_custom(|iters| warm_runs(&pool, &pre, code, iters, b"6\n"))
    });
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
    g.finish();
}

/// Time `iters` runs, each taken from a full pool (the wait for the refill is not timed: the
/// figure is the latency of a job that finds a ready cell).
fn warm_runs(pool: &WarmPool, cmd: &Command, stdin: &[u8], iters: u64, want: &[u8]) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        assert!(
            pool.wait_ready(2, Duration::from_secs(60)),
            "pool never refilled"
        );
        let t0 = Instant::now();
        let o = pool.run(black_box(cmd), stdin).expect("run");
        total += t0.elapsed();
        assert_eq!(o.verdict, Verdict::Ok);
        assert_eq!(o.stdout, want);
    }
    total
}

fn throughput(c: &mut Criterion) {
    let sb = Sandbox::builder().build().expect("sandbox");
    let own_netns = Sandbox::builder()
        .network_namespace_pool(false)
        .build()
        .expect("sandbox");
    let t = Command::new("/bin/true");
    let mut g = c.benchmark_group("throughput_2_threads");
    g.sample_size(20);
    // One "iteration" = one run; iter_custom spreads the runs over two threads.
    for (name, sb) in [
        ("runcell_true", &sb),
        ("runcell_true_netns_per_clone", &own_netns),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for part in [iters / 2, iters - iters / 2] {
                        let t = &t;
                        s.spawn(move || {
                            for _ in 0..part {
                                sb.run(t, b"").expect("run");
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    // The async API: one current-thread runtime, two runs in flight at a time.
    #[cfg(feature = "tokio")]
    g.bench_function("runcell_true_async_1_thread", |b| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..iters {
                    if set.len() >= 2 {
                        set.join_next().await;
                    }
                    let sb = sb.clone();
                    let t = t.clone();
                    set.spawn(async move { sb.run_async(&t, b"").await.expect("run") });
                }
                while set.join_next().await.is_some() {}
            });
            start.elapsed()
        })
    });
    g.bench_function("bare_true", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for part in [iters / 2, iters - iters / 2] {
                    s.spawn(move || {
                        for _ in 0..part {
                            bare("/bin/true", &[], None);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    g.finish();
}

/// fork + exec + wait with libc's fork: the page tables of the whole host are copied (and torn
/// down again), so this baseline grows with the host's size; std's Command (posix_spawn,
/// CLONE_VM) does not.
fn fork_exec_wait(path: &std::ffi::CStr) {
    let argv = [path.as_ptr(), std::ptr::null()];
    // SAFETY: the child only calls execv and _exit (async-signal-safe) on data prepared here.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork");
        if pid == 0 {
            libc::execv(path.as_ptr(), argv.as_ptr());
            libc::_exit(127);
        }
        let mut st = 0;
        assert_eq!(libc::waitpid(pid, &mut st, 0), pid);
        assert_eq!(st, 0);
    }
}

/// Spawn cost from a small host and from a host holding 1 GiB (touched, so its page tables are
/// populated): runcell's figure must not depend on the host's size.
fn host_size(c: &mut Criterion) {
    let sb = Sandbox::builder().build().expect("sandbox");
    let t = Command::new("/bin/true");
    for (label, mib) in [("host_10MiB", 10usize), ("host_1GiB", 1024)] {
        // The host's heap: allocated and written page by page (10 MiB is about what the bench
        // process holds anyway).
        let heap: Vec<u8> = (0..mib << 20).map(|i| (i >> 12) as u8).collect();
        let mut g = c.benchmark_group(format!("spawn_true_{label}"));
        g.sample_size(50);
        g.measurement_time(Duration::from_secs(4));
        g.bench_function("bare_fork_exec_wait", |b| {
            b.iter(|| fork_exec_wait(c"/bin/true"))
        });
        g.bench_function("std_process_command", |b| {
            b.iter(|| bare("/bin/true", &[], None))
        });
        g.bench_function("runcell_default", |b| {
            b.iter(|| {
                let o = sb.run(black_box(&t), b"").expect("run");
                assert_eq!(o.verdict, Verdict::Ok);
            })
        });
        g.finish();
        black_box(&heap);
    }
}

fn build_cost(c: &mut Criterion) {
    // What is paid once per Sandbox (mount plan, landlock rules, seccomp compilation), and
    // its drop. The default sandbox's cgroups are made by its first run (v1: not one
    // directory at build; v2: the pool's parent), so the cgroup cost here is the check that
    // they can be made; the first run pays for the directories (and the drop after a run
    // for their removal), which `spawn_true` includes.
    let mut g = c.benchmark_group("build");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("sandbox_default", |b| {
        b.iter(|| Sandbox::builder().build().expect("sandbox"))
    });
    // The same without cgroups.
    g.bench_function("sandbox_cgroups_off", |b| {
        b.iter(|| {
            Sandbox::builder()
                .cgroups(CgroupMode::Off)
                .build()
                .expect("sandbox")
        })
    });
    // What `runcell run` builds: one cgroup leaf per hierarchy made now (the run follows),
    // no pool parent.
    g.bench_function("sandbox_single_run", |b| {
        b.iter(|| {
            Sandbox::builder()
                .single_run(true)
                .build()
                .expect("sandbox")
        })
    });
    g.finish();

    // Build, one `/bin/true` and drop: where the default sandbox's cgroup directories are
    // made (its first run) and removed, beside the same without cgroups.
    let mut g = c.benchmark_group("build_first_run");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    let t = Command::new("/bin/true");
    for (name, mode) in [
        ("sandbox_default", CgroupMode::Auto),
        ("sandbox_cgroups_off", CgroupMode::Off),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let sb = Sandbox::builder().cgroups(mode).build().expect("sandbox");
                let o = sb.run(black_box(&t), b"").expect("run");
                assert_eq!(o.verdict, Verdict::Ok);
            })
        });
    }
    g.finish();
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

fn host_memory_per_sandbox(_c: &mut Criterion) {
    // Not a timing: how much host (runcell process) memory each running sandbox costs beyond
    // its captured output. 64 sandboxes are kept running at once through `spawn`.
    let sb = Sandbox::builder().build().expect("sandbox");
    let cmd = Command::new("sleep").arg("30");
    let _warm = sb.spawn(&cmd).expect("spawn");
    let before = rss_kib();
    let children: Vec<_> = (0..64).map(|_| sb.spawn(&cmd).expect("spawn")).collect();
    let after = rss_kib();
    drop(children);
    println!(
        "host_memory_per_sandbox: {:.1} KiB per running sandbox (64 running, RSS {} -> {} KiB)",
        after.saturating_sub(before) as f64 / 64.0,
        before,
        after
    );
}

criterion_group!(
    benches,
    spawn_latency,
    throughput,
    host_size,
    build_cost,
    host_memory_per_sandbox
);
criterion_main!(benches);
