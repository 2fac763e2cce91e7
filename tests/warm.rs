//! Warm cells (`Sandbox::warm_pool`): a job in a warm cell behaves like a cold run, sees
//! nothing of any other job or of the host, is held to limits counted from its handover, and
//! nothing of a pool outlives it (not after a drop, not after the host is killed).

mod common;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use runcell::{Command, Error, Profile, Sandbox, Verdict, WarmConfig, WarmPool};

/// The tests look at this process's children: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every process below `pid` (its children, theirs, ...), `pid` included.
fn tree(pid: u32) -> BTreeSet<u32> {
    let mut out = BTreeSet::from([pid]);
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if out.insert(c) {
                    todo.push(c);
                }
            }
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The memory cgroup directory of a host process (v1 `memory` line, or the v2 line).
fn memory_cgroup(pid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrl.split(',').any(|c| c == "memory") {
            return Some(PathBuf::from("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')));
        }
        if ctrl.is_empty() && path.contains("runcell-") {
            return Some(PathBuf::from("/sys/fs/cgroup").join(path.trim_start_matches('/')));
        }
    }
    None
}

fn ready_pool(sb: &Sandbox, size: usize) -> WarmPool {
    let pool = sb.warm_pool(WarmConfig::new(size)).unwrap();
    assert!(pool.wait_ready(size, HANG), "the pool never filled");
    pool
}

fn sh_cmd(script: &str) -> Command {
    Command::new("sh").arg("-c").arg(script)
}

#[test]
fn a_warm_run_is_a_run() {
    let _g = serial();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = ready_pool(&sb, 2);
    let o = pool
        .run(&sh_cmd("cat; echo \"$0 $1\" >&2; exit 3"), b"in")
        .unwrap();
    assert_eq!(o.verdict, Verdict::ExitNonzero);
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(o.stdout, b"in");
    assert_eq!(o.stderr, b"sh \n");
    // Looked up on the sandbox's PATH, with the command's environment.
    let o = pool
        .run(&Command::new("printenv").arg("X").env("X", "job"), b"")
        .unwrap();
    assert_eq!(
        (o.verdict, o.stdout.as_slice()),
        (Verdict::Ok, &b"job\n"[..])
    );
    // A program that is not there is an error, as in a cold run; the cell is not reused.
    assert!(pool.wait_ready(2, HANG));
    let e = pool
        .run(&Command::new("no-such-program-x"), b"")
        .unwrap_err();
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e}");
    assert!(pool.wait_ready(2, HANG));
    let e = pool.run(&Command::new("/etc/passwd"), b"").unwrap_err();
    assert!(matches!(e, Error::NotExecutable { .. }), "{e}");
    // A working directory of its own runs cold; so does a run with mounts of its own.
    let o = pool
        .run(&Command::new("pwd").current_dir("/proc"), b"")
        .unwrap();
    assert_eq!(o.stdout, b"/proc\n");
    let stats = pool.stats();
    assert_eq!(stats.warm_runs, 4, "{stats:?}");
    assert_eq!(stats.cold_runs, 1, "{stats:?}");
    assert_eq!(stats.setup_failures, 0, "{stats:?}");
}

/// Two jobs in two consecutive cells: the second finds nothing of the first (files in its
/// /tmp and working directory, environment, processes, memory of its processes), and neither
/// finds anything of the host.
#[test]
fn consecutive_cells_share_nothing() {
    let _g = serial();
    // In this host's memory and argv-free: nothing of a sandbox may find it.
    let host_secret = format!("HOSTSECRET-{}", 0x5d1e_u32 * 3);
    let sb = builder()
        .wall_time(BACKSTOP_WALL_TIME)
        .env("FROM_SANDBOX", "1")
        .build()
        .unwrap();
    let pool = ready_pool(&sb, 2);
    let first = pool
        .run(
            &sh_cmd(
                "echo secret-a > /tmp/a; echo secret-a > ./a; \
                 (sleep 7777.4242 &) ; export LEAK=secret-a; \
                 echo $$; cat /proc/sys/kernel/hostname",
            )
            .env("JOB", "secret-a"),
            b"",
        )
        .unwrap();
    assert_eq!(first.verdict, Verdict::Ok, "{}", stderr(&first));
    // Its daemon is gone with its cell.
    assert!(host_pids_with("7777.4242").is_empty());
    let second = pool
        .run(
            &sh_cmd(&format!(
                "ls -A /tmp . ; env; s=secret; s=$s-a; h={}; h=$h-{}; \
                 for p in /proc/[0-9]*; do echo \"P $p $(tr '\\0' ' ' < $p/cmdline)\"; \
                 cat $p/environ 2>/dev/null | tr '\\0' '\\n'; done; \
                 for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/[0-9]*/maps; do \
                 c=$(tr '\\0' ' ' < $f 2>/dev/null); \
                 case \"$c\" in *\"$s\"*|*\"$h\"*) echo \"F\"\"OUND $f\";; esac; done; \
                 echo END",
                &host_secret[..10],
                &host_secret[11..]
            )),
            b"",
        )
        .unwrap();
    assert_eq!(second.verdict, Verdict::Ok, "{}", stderr(&second));
    let out = stdout(&second);
    assert!(out.ends_with("END\n"), "{out}");
    assert!(!out.contains("secret-a"), "{out}");
    assert!(!out.contains(&host_secret), "{out}");
    assert!(!out.contains("FOUND"), "{out}");
    assert!(out.contains("FROM_SANDBOX=1"), "{out}");
    // Only its own processes: PID 1 (runcell-init, the fresh exec) and the job's.
    let procs: Vec<&str> = out.lines().filter(|l| l.starts_with("P ")).collect();
    assert!(
        procs
            .iter()
            .any(|l| l.starts_with("P /proc/1 runcell-init")),
        "{out}"
    );
    assert!(!procs.iter().any(|l| l.contains("sleep")), "{out}");
    // PID 1 holds no environment at all (nothing of the host, nothing of a job).
    let init_env = out
        .split("P /proc/1 ")
        .nth(1)
        .and_then(|s| s.lines().nth(1))
        .unwrap_or("");
    assert!(init_env.starts_with("P /proc/2 "), "{out}");
    assert_eq!(pool.stats().warm_runs, 2);
}

/// Wall time counts from the handover: a cell idle for longer than the limit still gives its
/// job the whole limit; a job over it is killed with everything it started.
#[test]
fn wall_time_counts_from_handover() {
    let _g = serial();
    let sb = builder().wall_time(Duration::from_secs(2)).build().unwrap();
    let pool = ready_pool(&sb, 2);
    std::thread::sleep(Duration::from_secs(3));
    let o = pool.run(&sh_cmd("sleep 0.2; echo ok"), b"").unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(pool.wait_ready(2, HANG));
    let o = pool
        .run(&sh_cmd("sleep 888.123 & sleep 888.123"), b"")
        .unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert!(host_pids_with("888.123").is_empty());
    assert_eq!(pool.stats().warm_runs, 2);
}

/// CPU, memory and process limits hold for everything a job does, and usage is the job's.
#[test]
fn limits_cover_the_whole_job() {
    let _g = serial();
    let sb = builder()
        .profile(Profile::named("python").unwrap())
        .wall_time(BACKSTOP_WALL_TIME)
        .cpu_time(Duration::from_secs(1))
        .memory(96 << 20)
        .pids(16)
        .build()
        .unwrap();
    let pool = ready_pool(&sb, 1);
    // A busy loop in a child of the job.
    let o = pool
        .run(&sh_cmd("sh -c 'while :; do :; done'; echo survived"), b"")
        .unwrap();
    // The child is stopped by the CPU limit (not the wall time), and its CPU time counts.
    assert_ne!(o.verdict, Verdict::WallTimeLimit, "{o:?}");
    // (The kernel stopped it at 1 s of its own clock; rusage samples a little less.)
    assert!(o.cpu_time >= Duration::from_millis(500), "{o:?}");
    assert!(pool.wait_ready(1, HANG));
    let o = pool
        .run(&Command::new("sh").args(["-c", "while :; do :; done"]), b"")
        .unwrap();
    assert_eq!(o.verdict, Verdict::CpuTimeLimit, "{o:?}");
    // A memory hog.
    assert!(pool.wait_ready(1, HANG));
    let o = pool
        .run(
            &Command::new("python3").arg("-"),
            b"x = bytearray(400 << 20)\nprint('survived')",
        )
        .unwrap();
    assert!(
        o.verdict == Verdict::MemoryLimit
            || (o.verdict == Verdict::ExitNonzero && stderr(&o).contains("MemoryError")),
        "{o:?} {}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("survived"));
    // A fork bomb: held at the process limit, and nothing survives the job.
    assert!(pool.wait_ready(1, HANG));
    let o = pool
        .run(
            &Command::new("python3").arg("-"),
            b"import os, time\nn = 0\ntry:\n    while n < 200:\n        if os.fork() == 0:\n            time.sleep(5.4321)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)\n",
        )
        .unwrap();
    let n: u32 = stdout(&o).trim().parse().unwrap_or(999);
    assert!(n > 0 && n < 16, "{n} {o:?} {}", stderr(&o));
    assert!(host_pids_with("5.4321").is_empty());
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
}

/// Several threads take cells at once: every job runs once, in its own cell or cold.
#[test]
fn concurrent_takes() {
    let _g = serial();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = ready_pool(&sb, 3);
    std::thread::scope(|s| {
        for t in 0..4 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..6 {
                    let tag = format!("{t}-{i}");
                    let o = pool
                        .run(&sh_cmd("cat; echo \" $$\""), tag.as_bytes())
                        .unwrap();
                    assert_eq!(o.verdict, Verdict::Ok);
                    // The job is the only one in its PID namespace: always pid 2.
                    assert_eq!(stdout(&o), format!("{tag} 2\n"));
                }
            });
        }
    });
    let stats = pool.stats();
    assert_eq!(stats.warm_runs + stats.cold_runs, 24, "{stats:?}");
    assert!(stats.warm_runs >= 3, "{stats:?}");
}

/// Dropping the pool kills and reaps every idle cell; dropping the sandbox too leaves no
/// cgroup.
#[test]
fn drop_leaves_no_process_and_no_cgroup() {
    let _g = serial();
    let before = sandbox_inits();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = ready_pool(&sb, 3);
    let cells: BTreeSet<u32> = sandbox_inits().difference(&before).copied().collect();
    assert_eq!(cells.len(), 3, "{cells:?}");
    let mut all: BTreeSet<u32> = cells.iter().flat_map(|&p| tree(p)).collect();
    // Each cell: runcell-init and the program's process waiting for its job.
    assert_eq!(all.len(), 6, "{all:?}");
    // Finished jobs' cells are reaped by the pool's reaper: those too are gone after the drop.
    for _ in 0..3 {
        let o = pool.run(&sh_cmd("sleep 0.01 & echo $$"), b"").unwrap();
        assert_eq!(o.stdout, b"2\n");
        all.extend(sandbox_inits().difference(&before).flat_map(|&p| tree(p)));
    }
    let groups: BTreeSet<PathBuf> = cells.iter().filter_map(|&p| memory_cgroup(p)).collect();
    drop(pool);
    for p in &all {
        assert!(!alive(*p), "process {p} of a dropped pool is still there");
    }
    drop(sb);
    for g in &groups {
        if g.to_string_lossy().contains("runcell-") {
            assert!(!g.exists(), "{} left behind", g.display());
        }
    }
}

/// A cell whose setup fails is counted and reported, never handed out: here the sandbox's bind
/// source disappears after the pool started.
#[test]
fn failed_setup_is_reported_not_handed_out() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("warm-bind-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), "x").unwrap();
    let sb = builder()
        .wall_time(BACKSTOP_WALL_TIME)
        .ro_bind(&dir, "/data")
        .build()
        .unwrap();
    let pool = sb.warm_pool(WarmConfig::new(1)).unwrap();
    assert!(pool.wait_ready(1, HANG));
    std::fs::remove_dir_all(&dir).unwrap();
    // The ready cell was complete: it runs.
    let o = pool.run(&Command::new("true"), b"").unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
    wait_until("a failed refill", || pool.stats().setup_failures > 0);
    let stats = pool.stats();
    assert_eq!(stats.ready, 0, "{stats:?}");
    assert!(
        stats
            .last_setup_error
            .as_deref()
            .unwrap_or("")
            .contains("/data")
            || stats.last_setup_error.is_some(),
        "{stats:?}"
    );
    // No cell: the job runs cold, and fails the same way.
    assert!(pool.run(&Command::new("true"), b"").is_err());
    assert_eq!(pool.stats().warm_runs, 1);
    // A configuration that cannot start at all fails at once.
    assert!(sb.warm_pool(WarmConfig::new(1)).is_err());
}

/// The idle-memory cap bounds the cells kept ready (cgroups measure them).
#[test]
fn idle_memory_cap() {
    let _g = serial();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let measured = ready_pool(&sb, 4).stats();
    let Some(total) = measured.idle_memory else {
        // No cgroups: the cap is refused, not ignored.
        assert!(
            sb.warm_pool(WarmConfig::new(4).max_idle_memory(1 << 30))
                .is_err()
        );
        return;
    };
    let per_cell = total / 4;
    assert!(per_cell > 0);
    // One and a half cells' worth: cells measure in page-counter steps and vary by up to ~40%
    // from one to the next (with the template mount namespace, 330-460 KiB each), so a cap of
    // 2.5 mean cells sometimes let a fourth small one in. With 1.5, four cells would each
    // have to be under 40% of the mean.
    let cap = per_cell + per_cell / 2;
    let capped = sb
        .warm_pool(WarmConfig::new(4).max_idle_memory(cap))
        .unwrap();
    assert!(!capped.wait_ready(4, Duration::from_secs(2)));
    let stats = capped.stats();
    assert!(stats.ready >= 1 && stats.ready < 4, "{stats:?} cap {cap}");
    assert!(
        stats.idle_memory.unwrap() <= cap + per_cell,
        "{stats:?} cap {cap}"
    );
}

/// Without refill the pool is filled once, then serves cold runs.
#[test]
fn no_refill() {
    let _g = serial();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = sb.warm_pool(WarmConfig::new(2).refill(false)).unwrap();
    assert!(pool.wait_ready(2, HANG));
    for _ in 0..4 {
        assert_eq!(
            pool.run(&Command::new("true"), b"").unwrap().verdict,
            Verdict::Ok
        );
    }
    let stats = pool.stats();
    assert_eq!((stats.warm_runs, stats.cold_runs), (2, 2), "{stats:?}");
    assert_eq!(stats.cells_started, 2);
}

/// A host killed with SIGKILL takes its idle cells with it (parent-death signal): a copy of
/// this test binary starts a pool, prints its cells' processes, and is killed.
#[test]
fn cells_die_with_a_killed_host() {
    if std::env::var_os("RUNCELL_WARM_DOOMED").is_some() {
        let sb = Sandbox::builder().build().unwrap();
        let pool = ready_pool(&sb, 3);
        let all: Vec<String> = sandbox_inits()
            .iter()
            .flat_map(|&p| tree(p))
            .map(|p| p.to_string())
            .collect();
        println!("CELLS {}", all.join(" "));
        std::thread::sleep(Duration::from_secs(600));
        drop(pool);
        return;
    }
    use std::io::{BufRead, BufReader};
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args(["--exact", "cells_die_with_a_killed_host", "--nocapture"])
        .env("RUNCELL_WARM_DOOMED", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("CELLS ") {
            pids = rest
                .split_whitespace()
                .map(|p| p.parse::<u32>().unwrap())
                .collect();
            break;
        }
    }
    assert_eq!(pids.len(), 6, "{pids:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the cells of a killed host to die", || {
        pids.iter().all(|&p| !alive(p))
    });
}

/// The same as an unprivileged host (uid 65534, no cgroups): a copy of this test binary drops
/// its ids first.
#[test]
fn works_for_an_unprivileged_host() {
    if std::env::var_os("RUNCELL_UNPRIV_CHILD").is_some() || !is_root() {
        return unprivileged_child();
    }
    let _g = serial();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "works_for_an_unprivileged_host",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_UNPRIV_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("WARM-UNPRIV-OK"), "{text}");
}

fn unprivileged_child() {
    if is_root() {
        // SAFETY: single-threaded at this point of the child test process (one test, run with
        // --test-threads=1); dropping ids with raw calls.
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
            assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
            assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
        }
    }
    let sb = Sandbox::builder()
        .wall_time(BACKSTOP_WALL_TIME)
        .build()
        .unwrap();
    let before = sandbox_inits();
    let pool = ready_pool(&sb, 2);
    let o = pool
        .run(
            &sh_cmd("echo a > /tmp/a; id -u; cat /proc/self/uid_map"),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{o:?}");
    assert!(stdout(&o).starts_with("1000\n"), "{}", stdout(&o));
    assert!(pool.wait_ready(2, HANG));
    let o = pool.run(&sh_cmd("ls -A /tmp; echo END"), b"").unwrap();
    assert_eq!(stdout(&o), "END\n");
    assert_eq!(pool.stats().warm_runs, 2);
    // Busy loop under the CPU limit, counted from the handover.
    let quick = sb
        .to_builder()
        .cpu_time(Duration::from_secs(1))
        .build()
        .unwrap();
    let qpool = ready_pool(&quick, 1);
    let o = qpool.run(&sh_cmd("while :; do :; done"), b"").unwrap();
    assert_eq!(o.verdict, Verdict::CpuTimeLimit, "{o:?}");
    // Preloaded: the host lowers the program's CPU limit at the handover (prlimit works on
    // the sandbox's processes for an unprivileged host too).
    let py = Sandbox::builder()
        .profile(Profile::named("python").unwrap())
        .wall_time(BACKSTOP_WALL_TIME)
        .cpu_time(Duration::from_secs(1))
        .build()
        .unwrap();
    let ppool = py.warm_pool(WarmConfig::new(1).python(&["json"])).unwrap();
    let cmd = ppool.preload_command().unwrap().clone();
    let o = ppool
        .run(&cmd, b"import json; print(json.dumps(1))")
        .unwrap();
    assert_eq!(stdout(&o), "1\n", "{o:?}");
    assert!(ppool.wait_ready(1, HANG));
    let o = ppool.run(&cmd, b"while True: pass").unwrap();
    assert_eq!(o.verdict, Verdict::CpuTimeLimit, "{o:?}");
    assert_eq!(ppool.stats().warm_runs, 2);
    // A cell's own job directory, as the host user.
    let wpool = sb.warm_pool(WarmConfig::new(1).workspace("/box")).unwrap();
    let cell = wpool.cell().unwrap();
    let dir = cell.workspace().unwrap().path().to_path_buf();
    cell.workspace().unwrap().write("in.txt", b"mine").unwrap();
    let o = cell
        .run(&sh_cmd("cat in.txt; echo x > out.txt && ls"), b"")
        .unwrap();
    assert_eq!(stdout(&o), "minein.txt\nout.txt\n", "{o:?}");
    wait_until("the job directory's removal", || !dir.exists());
    assert!(wpool.wait_ready(1, HANG));
    let o = wpool.run(&sh_cmd("ls -A; echo END"), b"").unwrap();
    assert_eq!(stdout(&o), "END\n", "{o:?}");
    drop(wpool);
    let all: BTreeSet<u32> = sandbox_inits()
        .difference(&before)
        .flat_map(|&p| tree(p))
        .collect();
    assert!(!all.is_empty());
    drop(pool);
    drop(qpool);
    drop(ppool);
    for p in &all {
        assert!(!alive(*p), "process {p} of a dropped pool is still there");
    }
    println!("WARM-UNPRIV-OK");
}

fn python_sandbox(cpu: Duration) -> Sandbox {
    builder()
        .profile(Profile::named("python").unwrap())
        .wall_time(BACKSTOP_WALL_TIME)
        .cpu_time(cpu)
        .build()
        .unwrap()
}

/// Preloaded cells: the interpreter has imported its modules before the job, the job's code
/// comes on stdin, and two jobs share nothing (not the modules' state either).
#[test]
fn preloaded_python_cells() {
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(10));
    let before = sandbox_inits();
    let pool = sb
        .warm_pool(WarmConfig::new(2).python(&["json", "decimal"]))
        .unwrap();
    assert!(pool.wait_ready(2, HANG));
    let cmd = pool.preload_command().unwrap().clone();
    let o = pool
        .run(
            &cmd,
            b"import sys, json\nprint('decimal' in sys.modules, json.dumps([1]))\n\
              json.leak = 'secret-b'\nopen('/tmp/b', 'w').write('secret-b')\n\
              print(__name__)",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(stdout(&o), "True [1]\n__main__\n");
    assert!(pool.wait_ready(2, HANG));
    let o = pool
        .run(
            &cmd,
            b"import json, os\nprint(hasattr(json, 'leak'), os.listdir('/tmp'), \
              sorted(k for k in globals() if not k.startswith('__')))",
        )
        .unwrap();
    assert_eq!(stdout(&o), "False [] ['json', 'os']\n", "{}", stderr(&o));
    // Errors in the job are the job's, as with `python3 -`.
    assert!(pool.wait_ready(2, HANG));
    let o = pool.run(&cmd, b"raise SystemExit(4)").unwrap();
    assert_eq!(o.exit_code, Some(4));
    assert!(pool.wait_ready(2, HANG));
    let o = pool.run(&cmd, b"def (").unwrap();
    assert_eq!(o.verdict, Verdict::ExitNonzero);
    assert!(stderr(&o).contains("SyntaxError"), "{}", stderr(&o));
    // Uncaught exceptions, string exits and atexit handlers as with `python3 -` (the runner's
    // own frame is not in the traceback).
    for (code, status, out, err) in [
        (&b"1/0"[..], 1, "", "ZeroDivisionError"),
        (b"import sys; sys.exit('msg')", 1, "", "msg"),
        (
            b"import atexit; atexit.register(lambda: print('bye'))",
            0,
            "bye\n",
            "",
        ),
        (
            b"import sys; sys.stdout.write('no newline')",
            0,
            "no newline",
            "",
        ),
    ] {
        assert!(pool.wait_ready(2, HANG));
        let o = pool.run(&cmd, code).unwrap();
        assert_eq!(o.exit_code, Some(status), "{o:?}");
        assert_eq!(stdout(&o), out);
        assert!(stderr(&o).contains(err), "{}", stderr(&o));
        assert!(!stderr(&o).contains("_runcell"), "{}", stderr(&o));
    }
    // Another command runs cold.
    let o = pool
        .run(&Command::new("python3").arg("-"), b"print(2)")
        .unwrap();
    assert_eq!(stdout(&o), "2\n");
    let stats = pool.stats();
    assert_eq!(stats.cold_runs, 1, "{stats:?}");
    assert_eq!(stats.warm_runs + stats.cold_runs, 9, "{stats:?}");
    let all: BTreeSet<u32> = sandbox_inits()
        .difference(&before)
        .flat_map(|&p| tree(p))
        .collect();
    assert!(all.len() >= 2, "{all:?}");
    drop(pool);
    for p in &all {
        assert!(!alive(*p), "process {p} of a dropped pool is still there");
    }
}

/// The CPU limit of a preloaded cell counts from the handover: a preload that burns more CPU
/// than the job's limit still leaves the job its limit, and is not in the job's report.
#[test]
fn preload_cpu_is_not_the_jobs() {
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(1));
    let burn = "import sys, time\nt = time.process_time()\n\
                while time.process_time() - t < 1.5: pass\n\
                sys.stdout.write('\\0'); sys.stdout.flush()\n\
                exec(compile(sys.stdin.read(), '<stdin>', 'exec'), {'__name__': '__main__'})\n";
    let cmd = Command::new("python3").arg("-c").arg(burn);
    let pool = sb
        .warm_pool(WarmConfig::new(1).preload(cmd.clone()))
        .unwrap();
    let o = pool.run(&cmd, b"print('quick')").unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(o.cpu_time < Duration::from_millis(1400), "{o:?}");
    assert!(pool.wait_ready(1, HANG));
    let o = pool.run(&cmd, b"while True: pass").unwrap();
    assert_eq!(o.verdict, Verdict::CpuTimeLimit, "{o:?}");
    assert!(o.cpu_time >= Duration::from_millis(500), "{o:?}");
    assert!(o.cpu_time < Duration::from_millis(2500), "{o:?}");
    // A preload that never gets ready is a setup error, with its stderr.
    let e = sb
        .warm_pool(WarmConfig::new(1).python(&["no_such_module_x"]))
        .unwrap_err();
    assert!(e.to_string().contains("no_such_module_x"), "{e}");
}

/// The CPU the preload used counts whole, threads that have exited included (as RLIMIT_CPU
/// counts it): a preload that burned more than the job's limit in a thread it joined still
/// leaves the job its full limit.
#[test]
fn preload_cpu_in_an_exited_thread_is_not_the_jobs() {
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(1));
    let burn = "import sys, threading, time\n\
                def burn():\n    t = time.process_time()\n    \
                while time.process_time() - t < 2.5: pass\n\
                th = threading.Thread(target=burn); th.start(); th.join()\n\
                sys.stdout.write('\\0'); sys.stdout.flush()\n\
                exec(compile(sys.stdin.read(), '<stdin>', 'exec'), {'__name__': '__main__'})\n";
    let cmd = Command::new("python3").arg("-c").arg(burn);
    let pool = sb
        .warm_pool(WarmConfig::new(1).refill(false).preload(cmd.clone()))
        .unwrap();
    // Half the job's limit: within it, whatever the preload's thread used.
    let job = b"import time\nt = time.process_time()\n\
                while time.process_time() - t < 0.5: pass\nprint('done')\n";
    let o = pool.run(&cmd, job).unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{o:?} {}", stderr(&o));
    assert_eq!(stdout(&o), "done\n");
    assert_eq!(pool.stats().warm_runs, 1, "{:?}", pool.stats());
}

/// A job carrying host ids its caller leased (and handed files to) runs as those ids: cold,
/// never in a cell set up with other ids.
#[test]
fn a_job_with_its_own_host_ids_runs_as_them() {
    let _g = serial();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = ready_pool(&sb, 1);
    let ids = sb.lease_host_ids().unwrap();
    let before = pool.stats();
    let o = pool
        .run(&sh_cmd("cat /proc/self/uid_map").host_ids(&ids), b"")
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
    assert_eq!(
        (o.enforced.host_uid, o.enforced.host_gid),
        (ids.uid(), ids.gid())
    );
    let map: Vec<u32> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(map.get(1), Some(&ids.uid()), "{map:?}");
    let after = pool.stats();
    assert_eq!(after.cold_runs, before.cold_runs + 1);
    assert_eq!(after.warm_runs, before.warm_runs);
}

/// A framed job's code, arguments and stdin stay apart whatever their bytes: lengths, not
/// delimiters, separate them, so stdin that looks like a frame, code that holds the frame's
/// magic, arguments with NUL-free binary bytes, and parts larger than a pipe all arrive whole.
#[test]
fn framed_job_parts_cannot_be_confused() {
    use std::os::unix::ffi::OsStrExt;
    let _g = serial();
    let sb = builder()
        .profile(Profile::named("python").unwrap())
        .wall_time(BACKSTOP_WALL_TIME)
        .output_limit(8 << 20)
        .build()
        .unwrap();
    let pool = sb.warm_pool(WarmConfig::new(1).python(&[])).unwrap();
    let hex = |b: &[u8]| b.iter().map(|c| format!("{c:02x}")).collect::<String>();
    // Every byte value, a frame of another job, an EOF-looking tail.
    let mut all: Vec<u8> = (0..=255u8).collect();
    let other = runcell::Job::new("print('other')").script("x.py").arg("y");
    let mut fake = b"RCJOB1\0\0".to_vec();
    fake.extend_from_slice(&[5, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    fake.extend_from_slice(b"a.py\n");
    all.extend_from_slice(&fake);
    all.extend_from_slice(format!("{other:?}").as_bytes());
    let big_stdin: Vec<u8> = (0..(1usize << 20) + 7)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let code_prefix = "import sys, os\n\
        # RCJOB1 \\0\\0 a comment holding the magic\n\
        m = 'RCJOB1\\0\\0'\n\
        print(sys.argv[0])\n\
        print(' '.join(os.fsencode(a).hex() or '-' for a in sys.argv[1:]))\n\
        print(sys.stdin.buffer.read().hex())\n";
    let big_code = format!(
        "{code_prefix}{}",
        "# padding line of the code\n".repeat(8000)
    );
    let args: Vec<std::ffi::OsString> = vec![
        "".into(),
        "two words".into(),
        "new\nline".into(),
        std::ffi::OsStr::from_bytes(b"\xff\xfe RCJOB1").into(),
        std::ffi::OsStr::from_bytes(&all[1..64]).into(),
    ];
    let want_args = args
        .iter()
        .map(|a| {
            if a.is_empty() {
                "-".to_string()
            } else {
                hex(a.as_bytes())
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    for (code, stdin) in [
        (code_prefix.to_string(), all.clone()),
        (code_prefix.to_string(), Vec::new()),
        (code_prefix.to_string(), fake.clone()),
        (big_code.clone(), big_stdin.clone()),
    ] {
        assert!(pool.wait_ready(1, HANG));
        let job = runcell::Job::new(code.clone())
            .script("prog.py")
            .args(args.clone());
        let o = pool.run_job(&job, &stdin).unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        let out = stdout(&o);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out:.300}");
        assert_eq!(lines[0], "prog.py");
        assert_eq!(lines[1], want_args);
        assert_eq!(lines[2], hex(&stdin), "stdin of {} bytes", stdin.len());
    }
    // Judge0's redirect_stderr_to_stdout and stack_limit.
    let job = runcell::Job::new(
        "import sys, resource\nprint('a')\nprint('b', file=sys.stderr)\n\
         s, h = resource.getrlimit(resource.RLIMIT_STACK)\n\
         print(s == 64000 * 1024 or s == h, s == h)\n",
    )
    .stderr_to_stdout(true)
    .stack_limit_kib(64000);
    assert!(pool.wait_ready(1, HANG));
    let o = pool.run_job(&job, b"").unwrap();
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str()),
        ("a\nb\nTrue True\n", "")
    );
    // `python3 -` style through `run` of the preload command: the input is the code.
    let cmd = pool.preload_command().unwrap().clone();
    let o = pool
        .run(&cmd, b"import sys; print(sys.argv, sys.stdin.read() == '')")
        .unwrap();
    assert_eq!(stdout(&o), "['-'] True\n", "{}", stderr(&o));
    // Bounds: refused before anything runs.
    let huge = runcell::Job::new(vec![b'#'; runcell::MAX_JOB_CODE + 1]);
    assert!(matches!(
        pool.run_job(&huge, b""),
        Err(Error::Config { .. })
    ));
    let nul = runcell::Job::new("pass").arg(std::ffi::OsStr::from_bytes(b"a\0b"));
    assert!(matches!(pool.run_job(&nul, b""), Err(Error::Config { .. })));
    // A pool whose cells are not framed refuses jobs.
    let plain = ready_pool(&sb, 1);
    assert!(matches!(
        plain.run_job(&runcell::Job::new("pass"), b""),
        Err(Error::Config { .. })
    ));
}

/// What a Judge0 client sees of a failing script is the same from a warm cell as from a cold
/// `python3 script.py`: exit status, stdout and stderr (tracebacks naming the script's path and
/// quoting its lines, warnings, syntax errors, `sys.exit` messages).
#[test]
fn warm_errors_read_like_a_cold_script() {
    let _g = serial();
    let sb = builder()
        .profile(Profile::named("python").unwrap())
        .wall_time(BACKSTOP_WALL_TIME)
        .workdir("/work")
        .build()
        .unwrap();
    let pool = sb.warm_pool(WarmConfig::new(1).python(&[])).unwrap();
    let scripts: &[&str] = &[
        "import sys\nprint(sys.argv, __file__, __name__, sys.path[0])\n\
         def f(x):\n    return 1 / x\n\ndef g():\n    return f(0)\n\ng()\n",
        "def (\n",
        "x = 1\n  y = 2\n",
        "import sys\nsys.exit('bad input')\n",
        "import sys\nsys.exit(7)\n",
        "try:\n    {}['k']\nexcept KeyError as e:\n    raise RuntimeError('y') from e\n",
        "# -*- coding: utf-8 -*-\ns = 'é ü'\nprint(s)\nraise ValueError(s)\n",
        "import warnings\nwarnings.warn('careful')\nprint('after')\n",
        "class E(Exception):\n    pass\n\nraise E('mine')\n",
        "def f(n):\n    return f(n + 1)\n\nf(0)\n",
        "x = [1,\n  2,\n  3][\n  5]\n",
        "import pickle\nclass C:\n    pass\nprint(len(pickle.dumps(C())) > 0)\nimport os\nprint(os.path.basename(__file__))\n",
        // The source of the job's own code, as a script's (linecache through the loader).
        "import inspect\ndef f():\n    return 1\nprint(inspect.getsource(f), end='')\n\
         import warnings\ndef w():\n    warnings.warn('in f', stacklevel=1)\nw()\n",
    ];
    // Source encodings: invalid UTF-8 (a syntax error), a PEP 263 declaration on line 2
    // with bytes that are not UTF-8, a BOM; each quoted in a traceback.
    let encoded: &[&[u8]] = &[
        b"print('ok')\ns = '\xff\xfe'\nraise ValueError(s)\n",
        b"#!/usr/bin/env python3\n# vim: set fileencoding=latin-1 :\ns = '\xe9\xfc'\nprint(s)\nraise ValueError(s)\n",
        b"\xef\xbb\xbfs = '\xc3\xa9'\nprint(s)\nraise ValueError(s)\n",
        b"# coding: no-such-codec\nprint(1)\n",
    ];
    let scripts = scripts
        .iter()
        .map(|s| s.as_bytes())
        .chain(encoded.iter().copied());
    for code in scripts {
        let ws = runcell::Workspace::new(&sb).unwrap();
        ws.write("script.py", code).unwrap();
        let cold = ws
            .run(
                &sb,
                Command::new("python3").args(["script.py", "a", "b c"]),
                b"",
            )
            .unwrap();
        assert!(pool.wait_ready(1, HANG));
        let job = runcell::Job::new(code)
            .script("script.py")
            .args(["a", "b c"]);
        let warm = pool.run_job(&job, b"").unwrap();
        let code = String::from_utf8_lossy(code);
        assert_eq!(warm.exit_code, cold.exit_code, "{code}\n{}", stderr(&warm));
        assert_eq!(stdout(&warm), stdout(&cold), "{code}");
        assert_eq!(stderr(&warm), stderr(&cold), "{code}");
        assert!(!stderr(&warm).contains("_runcell"), "{}", stderr(&warm));
    }
    // The code as `python3 -` reads it (`<stdin>`), from a job without a script name. (Not
    // the latin-1 declaration: CPython 3.11's `python3 -` refuses any declared encoding but
    // UTF-8, "encoding problem: iso-8859-1"; the warm runner decodes it.)
    for code in [encoded[0], encoded[2], encoded[3]] {
        let cold = sb.run(&Command::new("python3").arg("-"), code).unwrap();
        assert!(pool.wait_ready(1, HANG));
        let warm = pool.run_job(&runcell::Job::new(code), b"").unwrap();
        let code = String::from_utf8_lossy(code);
        assert_eq!(warm.exit_code, cold.exit_code, "{code}\n{}", stderr(&warm));
        assert_eq!(stdout(&warm), stdout(&cold), "{code}");
        assert_eq!(stderr(&warm), stderr(&cold), "{code}");
    }
    assert_eq!(pool.stats().cold_runs, 0, "{:?}", pool.stats());
}

/// With `WarmConfig::workspace`, each cell has a job directory of its own: empty until the
/// caller writes the job's files, visible to the job at the working directory, writable by
/// it, handed to the cell's ids, never shared with another cell, out of reach of the host
/// directory's parent, and removed with the cell (after its job, when dropped unused, and with
/// the pool).
#[test]
fn cells_have_their_own_job_directory() {
    let _g = serial();
    let parent = std::env::temp_dir().join(format!("warm-ws-parent-{}", std::process::id()));
    std::fs::create_dir_all(&parent).unwrap();
    let sb = builder().wall_time(BACKSTOP_WALL_TIME).build().unwrap();
    let pool = sb
        .warm_pool(WarmConfig::new(2).workspace_in("/box", &parent))
        .unwrap();
    assert!(pool.wait_ready(2, HANG));
    let cell = pool.cell().unwrap();
    let ws = cell.workspace().unwrap();
    let host_dir = ws.path().to_path_buf();
    let outer = host_dir.parent().unwrap().to_path_buf();
    // Beside the job directory on the host: nothing of the job may reach it.
    std::fs::write(outer.join("beside-secret"), "x").unwrap();
    ws.write("in.txt", b"one").unwrap();
    ws.write("sub/deep.txt", b"two").unwrap();
    let o = cell
        .run(
            &sh_cmd(
                "pwd; cat in.txt sub/deep.txt; echo; stat -c '%u %g' . in.txt sub; \
                 echo made > out.txt && mkdir d && echo wrote; ls -A | tr '\\n' ' '; echo; \
                 ls -A /box/.. /box/../.. 2>&1 | grep -c beside-secret; \
                 grep -c beside-secret /proc/self/mountinfo",
            ),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::ExitNonzero, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "/box\nonetwo\n1000 1000\n1000 1000\n1000 1000\nwrote\nd in.txt out.txt sub \n0\n0\n",
        "{}",
        stderr(&o)
    );
    // Gone with its cell (after the cell's reap, on the pool's reaper).
    wait_until("the job directory's removal", || !outer.exists());
    // The next cell's directory is empty: nothing of the previous job.
    let o = pool
        .run(&sh_cmd("pwd; ls -A; echo END").current_dir("/box"), b"")
        .unwrap();
    assert_eq!(stdout(&o), "/box\nEND\n", "{}", stderr(&o));
    // A cell dropped unused takes its directory with it.
    assert!(pool.wait_ready(2, HANG));
    let cell = pool.cell().unwrap();
    let unused = cell
        .workspace()
        .unwrap()
        .path()
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(unused.exists());
    drop(cell);
    assert!(!unused.exists());
    // Commands that need another root are refused by a taken cell (run cold by the pool).
    let cell = pool.cell().unwrap();
    assert!(matches!(
        cell.run(&Command::new("true").current_dir("/tmp"), b""),
        Err(Error::Config { .. })
    ));
    let stats = pool.stats();
    assert_eq!(stats.cold_runs, 0, "{stats:?}");
    assert!(pool.wait_ready(2, HANG));
    drop(pool);
    // Every cell's directory is gone with the pool.
    let left: Vec<_> = std::fs::read_dir(&parent).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir(&parent).unwrap();
}

/// A preloaded Python cell with a job directory: the job's files written by the caller are in
/// its working directory, `__file__` names the script there, and the job can write beside it.
#[test]
fn preloaded_cells_with_a_job_directory() {
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(10));
    let pool = sb
        .warm_pool(WarmConfig::new(1).python(&["json"]).workspace("/box"))
        .unwrap();
    let code = "import json, os, sys\n\
                print(__file__, os.getcwd(), sys.path[0])\n\
                print(open(__file__).read() == open('/box/script.py').read())\n\
                print(json.load(open('data.json'))['n'] + int(sys.stdin.read()))\n\
                open('out.txt', 'w').write('x')\n\
                print(sorted(os.listdir('.')))\n";
    for round in 0..2 {
        assert!(pool.wait_ready(1, HANG));
        let cell = pool.cell().unwrap();
        let ws = cell.workspace().unwrap();
        ws.write("script.py", code.as_bytes()).unwrap();
        ws.write("data.json", format!("{{\"n\": {round}}}").as_bytes())
            .unwrap();
        let o = cell
            .run_job(&runcell::Job::new(code).script("script.py"), b"40")
            .unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!(
                "/box/script.py /box /box\nTrue\n{}\n['data.json', 'out.txt', 'script.py']\n",
                40 + round
            )
        );
    }
    assert_eq!(pool.stats().warm_runs, 2, "{:?}", pool.stats());
}

/// A cell's job directory is not the cell's until its job: a preload that tries to create a
/// file there before its job is refused (the directory is the host's, mode 0711, on a root
/// host), and the job, once handed the directory, writes there.
#[test]
fn a_preload_cannot_write_the_job_directory_before_its_job() {
    if !is_root() {
        // An unprivileged host's sandboxes are the host user, who owns the directory.
        return;
    }
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(10));
    let pre = "import os, sys\n\
               try:\n    open('early.txt', 'w').close(); early = 'created'\n\
               except OSError as e:\n    early = os.strerror(e.errno)\n\
               sys.stdout.write('\\0'); sys.stdout.flush()\n\
               exec(compile(sys.stdin.read(), '<stdin>', 'exec'), {'early': early})\n";
    let cmd = Command::new("python3").arg("-c").arg(pre);
    let pool = sb
        .warm_pool(WarmConfig::new(1).preload(cmd.clone()).workspace("/box"))
        .unwrap();
    assert!(pool.wait_ready(1, HANG));
    let cell = pool.cell().unwrap();
    cell.workspace().unwrap().write("in.txt", b"x").unwrap();
    let o = cell
        .run(
            &cmd,
            b"import os\nopen('out.txt', 'w').write('y')\nprint(early, sorted(os.listdir('.')))\n",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "Permission denied ['in.txt', 'out.txt']\n",
        "{}",
        stderr(&o)
    );
}

/// A preloaded program that ended while its cell was idle is never handed a job: the handover
/// checks the program through its pidfd before and after it lowers the program's CPU limit by
/// pid, and fails instead of touching whatever process may hold that pid now.
#[test]
fn a_dead_preloaded_program_gets_no_job() {
    let _g = serial();
    let sb = python_sandbox(Duration::from_secs(10));
    let before = sandbox_inits();
    let pool = sb.warm_pool(WarmConfig::new(1).python(&[])).unwrap();
    assert!(pool.wait_ready(1, HANG));
    let cells: Vec<u32> = sandbox_inits().difference(&before).copied().collect();
    assert_eq!(cells.len(), 1, "{cells:?}");
    let program = *tree(cells[0])
        .iter()
        .find(|&&p| p != cells[0])
        .expect("the preloaded program");
    // SAFETY: a plain kill of a process of this test's own sandbox.
    assert_eq!(unsafe { libc::kill(program as i32, libc::SIGKILL) }, 0);
    wait_until("the program's reap", || !alive(program));
    let e = pool
        .run_job(&runcell::Job::new("print('ran')"), b"")
        .unwrap_err();
    assert!(e.to_string().contains("ended before its job"), "{e}");
    // The next cell works.
    assert!(pool.wait_ready(1, HANG));
    let o = pool
        .run_job(&runcell::Job::new("print('ran')"), b"")
        .unwrap();
    assert_eq!(stdout(&o), "ran\n", "{}", stderr(&o));
}
