//! cgroup limits and accounting with the real kernel (cgroup v1 on this host class, as root):
//! the limits are in the cgroup the sandbox runs in, they cover the whole tree, OOM kills are
//! `memory_limit`, leaves are pooled and everything is removed with the sandbox. The cgroup v2
//! path is unit-tested against a fake cgroupfs (src/sandbox/cgroup/tests.rs).

mod common;
#[path = "../examples/soak/harness.rs"]
mod harness;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use runcell::{CgroupMode, Command, Error, Sandbox, Verdict};

/// Whether cgroups are in use for the default sandbox; prints why a test is skipped if not.
fn cgroups_here() -> bool {
    let sb = Sandbox::builder().build().unwrap();
    let on = sb.enforced().cgroup == "v1" || sb.enforced().cgroup == "v2";
    if !on {
        eprintln!("skipped: no cgroups here ({})", sb.enforced().cgroup);
    }
    on
}

/// The directory of `pid`'s cgroup in the v1 hierarchy of `controller`.
fn v1_dir(pid: u32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = text
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            ctrls
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        })
        .unwrap();
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(rel.trim_start_matches('/'))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn limits_are_in_the_sandbox_cgroup() {
    if !cgroups_here() {
        return;
    }
    let sb = Sandbox::builder()
        .memory(96 << 20)
        .pids(20)
        .cpu_quota(1500)
        .build()
        .unwrap();
    assert_eq!(sb.enforced().limit_mechanisms["memory"], "cgroup_v1");
    assert_eq!(sb.enforced().limit_mechanisms["pids"], "cgroup_v1+rlimit");
    assert_eq!(sb.enforced().limit_mechanisms["cpu_quota"], "cgroup_v1");
    let child = sb.spawn(&Command::new("sleep").arg("30")).unwrap();
    let mem = v1_dir(child.pid(), "memory");
    let own = v1_dir(std::process::id(), "memory");
    assert!(
        mem.starts_with(&own),
        "{} not under {}",
        mem.display(),
        own.display()
    );
    assert_ne!(mem, own);
    assert_eq!(
        read(&mem.join("memory.limit_in_bytes")),
        (96u64 << 20).to_string()
    );
    if mem.join("memory.memsw.limit_in_bytes").exists() {
        assert_eq!(
            read(&mem.join("memory.memsw.limit_in_bytes")),
            (96u64 << 20).to_string()
        );
    }
    // 20 for the program, one for the sandbox's init.
    assert_eq!(read(&v1_dir(child.pid(), "pids").join("pids.max")), "21");
    let cpu = v1_dir(child.pid(), "cpu");
    let (quota, period): (u64, u64) = (
        read(&cpu.join("cpu.cfs_quota_us")).parse().unwrap(),
        read(&cpu.join("cpu.cfs_period_us")).parse().unwrap(),
    );
    assert_eq!(quota * 1000 / period, 1500);
    // Inside, RLIMIT_AS is not what limits memory: the cgroup is.
    drop(child);
    let o = sb
        .run(&Command::new("sh").arg("-c").arg("ulimit -v"), b"")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "unlimited");
}

#[test]
fn memory_limit_covers_the_whole_tree() {
    if !cgroups_here() {
        return;
    }
    // Four processes of 40 MiB each: every one is under a per-process limit of 100 MiB, the
    // tree is not.
    let code = "import os\nfor i in range(3):\n    if os.fork() == 0:\n        break\nx = bytearray(40 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nimport time\ntime.sleep(1)\nprint('done')";
    let o = py_with(python_builder().memory(100 << 20), code);
    assert_eq!(o.verdict, Verdict::MemoryLimit, "{o:?}");
    let o = py_with(python_builder().memory(400 << 20), code);
    assert_eq!(o.verdict, Verdict::Ok, "{o:?}");
    let peak = o.max_memory_kib.unwrap();
    assert!(peak >= 160 << 10, "peak {peak} KiB");
    // max_rss_kib stays the largest single process.
    assert!(o.max_rss_kib < 100 << 10, "{}", o.max_rss_kib);
}

#[test]
fn tmpfs_writes_count_against_memory() {
    if !cgroups_here() {
        return;
    }
    let sb = Sandbox::builder()
        .memory(48 << 20)
        .tmp_size(256 << 20)
        .file_size(256 << 20)
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg("head -c 120000000 /dev/zero > /tmp/x; echo wrote"),
            b"",
        )
        .unwrap();
    assert_ne!(o.verdict, Verdict::Ok, "{o:?}");
    assert!(
        o.verdict == Verdict::MemoryLimit || o.verdict == Verdict::ExitNonzero,
        "{o:?}"
    );
}

#[test]
fn memory_is_measured_without_oom() {
    if !cgroups_here() {
        return;
    }
    let o = py_with(
        python_builder().memory(256 << 20),
        "x = bytearray(64 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nprint('ok')",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{o:?}");
    let peak = o.max_memory_kib.unwrap();
    assert!((64 << 10..256 << 10).contains(&peak), "{peak}");
    let report = o.report_json();
    assert!(report.contains("\"max_memory_kib\""), "{report}");
    // A small program afterwards in the same (pooled, reset) leaf reports its own peak.
    let sb = python_builder().memory(256 << 20).build().unwrap();
    let big = sb
        .run(
            &Command::new("python3").arg("-"),
            b"x = bytearray(100 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1",
        )
        .unwrap();
    let small = sb.run(&Command::new("true"), b"").unwrap();
    assert!(big.max_memory_kib.unwrap() >= 100 << 10);
    assert!(
        small.max_memory_kib.unwrap() < 64 << 10,
        "peak was not reset: {:?}",
        small.max_memory_kib
    );
}

#[test]
fn cpu_quota_caps_the_rate() {
    if !cgroups_here() {
        return;
    }
    let sb = Sandbox::builder()
        .cpu_quota(250)
        .wall_time(Duration::from_secs(2))
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("sh").arg("-c").arg("while :; do :; done"),
            b"",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    // A quarter of a CPU over two seconds, with some slack for the last period.
    assert!(o.cpu_time < Duration::from_millis(900), "{:?}", o.cpu_time);
}

#[test]
fn cpu_quota_without_cgroups_is_refused() {
    let e = Sandbox::builder()
        .cgroups(CgroupMode::Off)
        .cpu_quota(500)
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("CPU quota"), "{e}");
    let e = Sandbox::builder().cpu_quota(0).build().unwrap_err();
    assert!(e.to_string().contains("CPU quota"), "{e}");
    let e = Sandbox::builder()
        .cgroup_v2_base("/nonexistent/cgroup")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
}

#[test]
fn leaves_are_pooled_and_removed_with_the_sandbox() {
    if !cgroups_here() {
        return;
    }
    let sb = Sandbox::builder().build().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        // `cat` waits for stdin, which `wait` closes.
        let child = sb.spawn(&Command::new("cat")).unwrap();
        seen.insert(v1_dir(child.pid(), "memory"));
        child.wait().unwrap();
    }
    assert_eq!(seen.len(), 1, "sequential runs reuse one leaf: {seen:?}");
    // Concurrent runs get a leaf each.
    let children: Vec<_> = (0..4)
        .map(|_| sb.spawn(&Command::new("sleep").arg("5")).unwrap())
        .collect();
    let leaves: std::collections::BTreeSet<_> =
        children.iter().map(|c| v1_dir(c.pid(), "memory")).collect();
    assert_eq!(leaves.len(), 4);
    drop(children);
    let clone = sb.clone();
    drop(sb);
    assert!(
        !harness::cgroup_dirs_of(std::process::id()).is_empty(),
        "a clone keeps the pool"
    );
    assert_eq!(
        clone.run(&Command::new("true"), b"").unwrap().verdict,
        Verdict::Ok
    );
    drop(clone);
    for l in leaves {
        assert!(!l.exists(), "{} left behind", l.display());
    }
}

#[test]
fn killed_runs_leave_no_tasks_in_the_cgroup() {
    if !cgroups_here() {
        return;
    }
    let sb = Sandbox::builder()
        .wall_time(Duration::from_millis(300))
        .build()
        .unwrap();
    let child = sb
        .spawn(
            &Command::new("sh")
                .arg("-c")
                .arg("sleep 9 & sleep 9 & sleep 9"),
        )
        .unwrap();
    let leaf = v1_dir(child.pid(), "memory");
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    assert_eq!(read(&leaf.join("cgroup.procs")), "");
    // Fork bomb: pids.max holds it, and the leaf is empty afterwards.
    let sb = Sandbox::builder()
        .pids(16)
        .wall_time(Duration::from_secs(2))
        .build()
        .unwrap();
    let child = sb
        .spawn(
            &Command::new("sh")
                .arg("-c")
                .arg("b() { b | b & }; b; sleep 5"),
        )
        .unwrap();
    let pids_leaf = v1_dir(child.pid(), "pids");
    std::thread::sleep(Duration::from_millis(500));
    let current: u64 = read(&pids_leaf.join("pids.current")).parse().unwrap();
    assert!(current <= 17, "{current}");
    child.wait().unwrap();
    assert_eq!(read(&pids_leaf.join("cgroup.procs")), "");
}

#[test]
fn the_sandbox_sees_its_cgroup_as_the_root() {
    let o = sh("cat /proc/self/cgroup");
    assert_eq!(o.verdict, Verdict::Ok);
    let text = stdout(&o);
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(line.ends_with(":/"), "host cgroup layout visible: {text}");
    }
    assert!(!text.contains("runcell"), "{text}");
}
