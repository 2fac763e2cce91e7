//! Limits and verdicts, with real programs.

mod common;
use std::time::Duration;

use common::*;
use runcell::{CgroupMode, Command, Sandbox, Verdict};

#[test]
fn infinite_loop_gets_cpu_time_limit() {
    let o = py_with(
        python_builder().cpu_time(Duration::from_secs(1)),
        "while True: pass",
    );
    assert_eq!(o.verdict, Verdict::CpuTimeLimit, "{o:?}");
    // RLIMIT_CPU fires on the tick-sampled CPU clock, rusage reports the scheduler's precise
    // runtime; on a loaded machine the two differ by a tick-sampling margin.
    assert!(o.cpu_time >= Duration::from_millis(600), "{:?}", o.cpu_time);
    // How much wall time that took depends on the machine's load: not asserted (the verdict
    // already says the CPU limit, not the 20 s wall limit, ended it).
}

#[test]
fn sleep_gets_wall_time_limit() {
    // How promptly the kill follows the limit is a speed property (benches/); here: the
    // verdict, the signal, never before the limit, and nothing left behind.
    let marker = "100.5772";
    let sb = Sandbox::builder()
        .wall_time(Duration::from_millis(500))
        .build()
        .unwrap();
    let o = sb.run(&Command::new("sleep").arg(marker), b"").unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert_eq!(o.signal, Some(libc::SIGKILL));
    assert!(
        o.wall_time >= Duration::from_millis(500),
        "{:?}",
        o.wall_time
    );
    assert!(host_pids_with(marker).is_empty());
}

#[test]
fn cpu_and_wall_are_distinguished() {
    // Sleeping uses no CPU: a CPU limit of 1 s does not fire, the wall limit does.
    let sb = Sandbox::builder()
        .cpu_time(Duration::from_secs(1))
        .wall_time(Duration::from_millis(1500))
        .build()
        .unwrap();
    let o = sb.run(&Command::new("sleep").arg("5"), b"").unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert!(o.cpu_time < Duration::from_millis(200));
}

#[test]
fn fork_bomb_is_contained() {
    let sb = Sandbox::builder()
        .pids(32)
        .wall_time(Duration::from_secs(2))
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg("b() { b | b & }; b; sleep 5"),
            b"",
        )
        .unwrap();
    // Either the wall clock or the shell's own failure ends it; the host is fine.
    assert!(
        matches!(
            o.verdict,
            Verdict::WallTimeLimit | Verdict::ExitNonzero | Verdict::Ok
        ),
        "{o:?}"
    );
    // The process limit held inside: a fork loop counts how far it got.
    let o = py_with(
        python_builder().pids(16),
        "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(10)\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)",
    );
    let out = stdout(&o);
    let n: u32 = out
        .split_whitespace()
        .next()
        .unwrap_or("99")
        .parse()
        .unwrap_or(99);
    assert!(n <= 16, "{out}");
    assert!(out.trim().ends_with(&libc::EAGAIN.to_string()), "{out}");
    // And the host still spawns processes.
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
}

/// With cgroups (as root here) a memory bomb is an OOM kill reported as `memory_limit`;
/// with rlimits alone (cgroups off, or an unprivileged host) it is a clean allocation failure.
#[test]
fn memory_bomb_gets_memory_limit_or_clean_allocation_failure() {
    for mode in [CgroupMode::Auto, CgroupMode::Off] {
        let b = python_builder().memory(128 << 20).cgroups(mode);
        let cgroup = b.clone().build().unwrap().enforced().limit_mechanisms["memory"] != "rlimit";
        for code in [
            "x = bytearray(1 << 30)\nprint('allocated')",
            // Growing slowly ends the same way.
            "l = []\nwhile True:\n    l.append(bytearray(1 << 20))",
        ] {
            let o = py_with(b.clone(), code);
            assert!(!stdout(&o).contains("allocated"));
            if cgroup {
                assert_eq!(o.verdict, Verdict::MemoryLimit, "{o:?}");
                let peak = o.max_memory_kib.expect("peak from the cgroup");
                assert!(peak > 64 << 10 && peak <= 128 << 10, "{peak}");
            } else {
                assert_eq!(o.verdict, Verdict::ExitNonzero, "{o:?}");
                assert!(stderr(&o).contains("MemoryError"), "{o:?}");
                assert_eq!(o.max_memory_kib, None);
            }
        }
        if mode == CgroupMode::Off {
            assert!(!cgroup);
        } else if is_root() {
            assert!(cgroup, "root on this host class has cgroup v1");
        }
    }
}

#[test]
fn stdout_flood_gets_output_limit() {
    let sb = Sandbox::builder().output_limit(64 << 10).build().unwrap();
    let o = sb
        .run(&Command::new("sh").arg("-c").arg("yes runcell"), b"")
        .unwrap();
    assert_eq!(o.verdict, Verdict::OutputLimit);
    assert!(o.stdout_truncated);
    assert!(!o.stderr_truncated);
    assert_eq!(o.stdout.len(), 64 << 10);
    assert_eq!(o.stdout_bytes, 64 << 10);
    assert!(o.stdout.starts_with(b"runcell\nruncell\n"));
}

/// A run cut at the output limit has the kill's status (137) whoever wins the race between
/// the cut and the program's own exit: `head` here exits as soon as its 5000 bytes are in
/// the pipe, usually before the supervisor has read past the limit.
#[test]
fn an_output_limit_has_the_kill_status_even_if_the_program_exited_first() {
    let sb = Sandbox::builder().output_limit(1000).build().unwrap();
    for _ in 0..10 {
        let o = sb
            .run(&Command::new("head").args(["-c", "5000", "/dev/zero"]), b"")
            .unwrap();
        let ended = (o.exit_code, o.signal);
        assert_eq!(o.verdict, Verdict::OutputLimit, "{ended:?}");
        assert_eq!(o.stdout.len(), 1000);
        assert_eq!(o.shell_status(), 128 + libc::SIGKILL, "{ended:?}");
    }
}

#[test]
fn stderr_has_its_own_cap() {
    let sb = Sandbox::builder().output_limit(1000).build().unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg("echo out; head -c 5000 /dev/zero >&2"),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::OutputLimit);
    assert_eq!(o.stdout, b"out\n");
    assert!(o.stderr_truncated);
    assert_eq!(o.stderr.len(), 1000);
}

#[test]
fn large_stdin_and_stdout_do_not_deadlock() {
    let input: Vec<u8> = (0..10 << 20).map(|i| (i % 251) as u8).collect();
    let sb = Sandbox::builder()
        .output_limit(16 << 20)
        .wall_time(Duration::from_secs(20))
        .build()
        .unwrap();
    let o = sb.run(&Command::new("cat"), &input).unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
    assert_eq!(o.stdout.len(), input.len());
    assert!(o.stdout == input);
}

#[test]
fn program_that_ignores_stdin_still_finishes() {
    let input = vec![b'x'; 8 << 20];
    let sb = Sandbox::builder().build().unwrap();
    let o = sb.run(&Command::new("true"), &input).unwrap();
    assert_eq!(o.verdict, Verdict::Ok);
}

#[test]
fn file_size_limit() {
    let o = py_with(
        python_builder().file_size(1 << 20),
        "import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\ntry:\n    open('/tmp/f','wb').write(b'x' * (2 << 20))\nexcept OSError as e:\n    print('EFBIG', e.errno)",
    );
    assert_eq!(stdout(&o), format!("EFBIG {}\n", libc::EFBIG));
    let sb = Sandbox::builder().file_size(1 << 20).build().unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg("head -c 2000000 /dev/zero > /tmp/f"),
            b"",
        )
        .unwrap();
    assert_ne!(o.verdict, Verdict::Ok);
}

#[test]
fn rlimits_are_visible_inside() {
    let o = py_with(
        python_builder()
            .cgroups(CgroupMode::Off)
            .open_files(100)
            .memory(200 << 20)
            .cpu_time(Duration::from_secs(3)),
        "import resource as r\nfor k in ['RLIMIT_NOFILE', 'RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_CORE']:\n    print(k, r.getrlimit(getattr(r, k)))",
    );
    let out = stdout(&o);
    assert!(out.contains("RLIMIT_NOFILE (100, 100)"), "{out}");
    assert!(
        out.contains(&format!("RLIMIT_AS ({0}, {0})", 200 << 20)),
        "{out}"
    );
    assert!(out.contains("RLIMIT_CPU (3, 4)"), "{out}");
    assert!(out.contains("RLIMIT_CORE (0, 0)"), "{out}");
}

#[test]
fn stack_limit_is_set_and_a_deep_recursion_stops_at_it() {
    // Unset: the host's own RLIMIT_STACK. Set: soft and hard, and a C-level recursion that
    // needs more stack than that dies with SIGSEGV, while the same recursion passes with a
    // larger stack. (The host's hard limit is unlimited here; a lower one would cap both.)
    let script = "import resource as r\nprint('STACK', r.getrlimit(r.RLIMIT_STACK))";
    let o = py_with(python_builder().stack(1 << 20), script);
    assert!(
        stdout(&o).contains(&format!("STACK ({0}, {0})", 1 << 20)),
        "{o:?}"
    );
    let o = py_with(python_builder(), script);
    let host = {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut l) }, 0);
        (l.rlim_cur as i128, l.rlim_max as i128)
    };
    let show = |v: i128| {
        if v == libc::RLIM_INFINITY as i128 {
            -1
        } else {
            v
        }
    };
    assert!(
        stdout(&o).contains(&format!("STACK ({}, {})", show(host.0), show(host.1))),
        "{o:?} host {host:?}"
    );
    // A deep recursion through the C stack (repr of nested lists recurses in C).
    let deep = "import sys\nsys.setrecursionlimit(10**6)\nx = []\nfor _ in range(50000):\n    x = [x]\nrepr(x)\nprint('deep')";
    let small = py_with(python_builder().stack(256 << 10), deep);
    assert_eq!(small.signal, Some(libc::SIGSEGV), "{small:?}");
    let large = py_with(python_builder().stack(64 << 20), deep);
    assert_eq!(large.verdict, Verdict::Ok, "{large:?}");
    assert_eq!(stdout(&large), "deep\n");
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let o = sh("exit 3");
    assert_eq!(o.verdict, Verdict::ExitNonzero);
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(o.signal, None);
    let o = sh("kill -SEGV $$");
    assert_eq!(o.verdict, Verdict::Signaled);
    assert_eq!(o.signal, Some(libc::SIGSEGV));
    assert_eq!(o.exit_code, None);
    assert_eq!(o.shell_status(), 128 + libc::SIGSEGV);
    let o = sh("echo hi; echo err >&2");
    assert_eq!(o.verdict, Verdict::Ok);
    assert_eq!(o.stdout, b"hi\n");
    assert_eq!(o.stderr, b"err\n");
}

#[test]
fn usage_is_measured() {
    let o = py(
        "x = bytearray(50 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\ns = 0\nfor i in range(3_000_000): s += i",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(o.max_rss_kib > 50 * 1024, "{}", o.max_rss_kib);
    assert!(o.cpu_time > Duration::from_millis(50));
    assert!(o.wall_time >= o.cpu_time / 2);
}

#[test]
fn wall_time_spent_in_setup_is_a_verdict_not_an_error() {
    // 1 ms cannot cover the setup: whether the clock runs out before or after exec, the run
    // ends as wall_time_limit with the sandbox killed, never as an error.
    let sb = Sandbox::builder()
        .wall_time(Duration::from_millis(1))
        .build()
        .unwrap();
    for _ in 0..5 {
        let o = sb.run(&Command::new("sleep").arg("1"), b"").unwrap();
        assert_eq!(o.verdict, Verdict::WallTimeLimit);
        assert_eq!(o.signal, Some(libc::SIGKILL));
    }
}
