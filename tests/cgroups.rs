//! cgroup limits and accounting with the real kernel: the limits are in the cgroup the sandbox
//! runs in, they cover the whole tree, OOM kills are `memory_limit`, leaves are pooled and
//! everything is removed with the sandbox. On a development host these run on cgroup v1 (hybrid
//! layout, as root); tests/qemu runs them in guests with a pure cgroup v2 hierarchy, as root
//! and as an unprivileged user owning a delegated subtree (`RUNCELL_TEST_CGROUP_V2_BASE`, see
//! tests/common). The v2 path is also unit-tested against a fake cgroupfs
//! (src/sandbox/cgroup/tests.rs).

mod common;
#[path = "../examples/soak/harness.rs"]
mod harness;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use runcell::{CgroupMode, Command, Error, Verdict};

/// The cgroup version in use for the default sandbox (`"v1"` or `"v2"`), or `None` (and why a
/// test is skipped) without cgroups. With a cgroup v2 base configured for the tests, cgroup v2
/// must be in use: the test fails rather than skips.
fn cgroups_here() -> Option<&'static str> {
    let sb = builder().build().unwrap();
    let v = match sb.enforced().cgroup.as_str() {
        "v1" => Some("v1"),
        "v2" => Some("v2"),
        _ => None,
    };
    if let Some(base) = cgroup_v2_base() {
        assert_eq!(
            v,
            Some("v2"),
            "{CGROUP_V2_BASE_ENV}={} but the sandbox uses {:?}",
            base.display(),
            sb.enforced().cgroup
        );
    }
    if v.is_none() {
        eprintln!("skipped: no cgroups here ({})", sb.enforced().cgroup);
    }
    v
}

/// Where the unified (cgroup2) hierarchy is mounted with its root, from mountinfo.
fn cgroup2_mount() -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            (f.get(dash + 1) == Some(&"cgroup2") && f[3] == "/").then(|| PathBuf::from(f[4]))
        })
        .expect("a cgroup2 mount")
}

/// The directory of `pid`'s cgroup: in the v1 hierarchy of `controller` when there is one,
/// else in the unified hierarchy.
fn cg_dir(pid: u32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line = |want_v1: bool| {
        text.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = if want_v1 {
                ctrls.split(',').any(|c| c == controller)
            } else {
                ctrls.is_empty()
            };
            hit.then(|| path.trim_start_matches('/').to_string())
        })
    };
    if let Some(rel) = line(true) {
        return Path::new("/sys/fs/cgroup").join(controller).join(rel);
    }
    cgroup2_mount().join(line(false).expect("a cgroup v2 line"))
}

/// The directories the pools of this process created: under the tests' cgroup v2 base when
/// one is set, else under this process's own cgroups.
fn pool_dirs() -> Vec<String> {
    let Some(base) = cgroup_v2_base() else {
        return harness::cgroup_dirs_of(std::process::id());
    };
    let prefix = format!("runcell-{}-", std::process::id());
    let mut out: Vec<String> = std::fs::read_dir(&base)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path().display().to_string())
        .collect();
    out.sort();
    out
}

/// Whether this kernel resets a v2 leaf's `memory.peak` (Linux >= 6.12), probed on `leaf`.
/// Without it a v2 leaf serves one run.
fn v2_peak_resets(leaf: &Path) -> bool {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .open(leaf.join("memory.peak"))
        .and_then(|mut f| f.write_all(b"reset\n"))
        .is_ok()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn limits_are_in_the_sandbox_cgroup() {
    let Some(v) = cgroups_here() else {
        return;
    };
    let sb = builder()
        .memory(96 << 20)
        .pids(20)
        .cpu_quota(1500)
        .build()
        .unwrap();
    let mech = format!("cgroup_{v}");
    // Without swap accounting on a host with swap, RLIMIT_AS stays too (`+rlimit`).
    assert!(
        sb.enforced().limit_mechanisms["memory"].starts_with(&mech),
        "{:?}",
        sb.enforced()
    );
    assert_eq!(
        sb.enforced().limit_mechanisms["pids"],
        format!("{mech}+rlimit")
    );
    assert_eq!(sb.enforced().limit_mechanisms["cpu_quota"], mech);
    let child = sb.spawn(&Command::new("sleep").arg("30")).unwrap();
    let mem = cg_dir(child.pid(), "memory");
    // Under the delegated base when one is set, else under this process's own cgroup.
    let parent = cgroup_v2_base().unwrap_or_else(|| cg_dir(std::process::id(), "memory"));
    assert!(
        mem.starts_with(&parent),
        "{} not under {}",
        mem.display(),
        parent.display()
    );
    assert_ne!(mem, parent);
    let (limit, swap) = if v == "v1" {
        ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
    } else {
        ("memory.max", "memory.swap.max")
    };
    assert_eq!(read(&mem.join(limit)), (96u64 << 20).to_string());
    if mem.join(swap).exists() {
        let want = if v == "v1" {
            (96u64 << 20).to_string()
        } else {
            "0".to_string()
        };
        assert_eq!(read(&mem.join(swap)), want);
    }
    if v == "v2" {
        // One OOM kill takes the whole leaf.
        assert_eq!(read(&mem.join("memory.oom.group")), "1");
    }
    // 20 for the program, one for the sandbox's init.
    assert_eq!(read(&cg_dir(child.pid(), "pids").join("pids.max")), "21");
    let cpu = cg_dir(child.pid(), "cpu");
    let (quota, period): (u64, u64) = if v == "v1" {
        (
            read(&cpu.join("cpu.cfs_quota_us")).parse().unwrap(),
            read(&cpu.join("cpu.cfs_period_us")).parse().unwrap(),
        )
    } else {
        let max = read(&cpu.join("cpu.max"));
        let (q, p) = max.split_once(' ').unwrap();
        (q.parse().unwrap(), p.parse().unwrap())
    };
    assert_eq!(quota * 1000 / period, 1500);
    // Inside, RLIMIT_AS is not what limits memory: the cgroup is (unless it cannot cap swap on
    // a host that has swap).
    drop(child);
    let o = sb
        .run(&Command::new("sh").arg("-c").arg("ulimit -v"), b"")
        .unwrap();
    if !sb.enforced().limit_mechanisms["memory"].ends_with("+rlimit") {
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "unlimited");
    }
}

#[test]
fn memory_limit_covers_the_whole_tree() {
    if cgroups_here().is_none() {
        return;
    }
    // Four processes of 40 MiB each: every one is under a per-process limit of 100 MiB, the
    // tree is not. They hold their memory until all four have touched theirs (children report
    // on `done`, the parent releases them by closing `go`), so the peak does not depend on how
    // fast the machine forks; a process the OOM killer takes closes its ends too.
    let code = r#"
import os
done_r, done_w = os.pipe()
go_r, go_w = os.pipe()
parent = True
for i in range(3):
    if os.fork() == 0:
        parent = False
        break
x = bytearray(40 << 20)
for i in range(0, len(x), 4096):
    x[i] = 1
if parent:
    os.close(done_w)
    os.close(go_r)
    got = 0
    while got < 3 and os.read(done_r, 1):
        got += 1
    os.close(go_w)
    for i in range(3):
        os.wait()
    print('done')
else:
    os.close(go_w)
    os.write(done_w, b'x')
    os.close(done_w)
    os.read(go_r, 1)
"#;
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
    if cgroups_here().is_none() {
        return;
    }
    let sb = builder()
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
    let Some(v) = cgroups_here() else {
        return;
    };
    // The peak comes from `memory.peak` on v2, which Linux only has since 5.19: without it the
    // outcome must say "unknown" (None), never make a figure up.
    let sb = python_builder().memory(256 << 20).build().unwrap();
    let child = sb.spawn(&Command::new("cat")).unwrap();
    let has_peak = v == "v1" || cg_dir(child.pid(), "memory").join("memory.peak").exists();
    child.wait().unwrap();
    let o = sb
        .run(
            &Command::new("python3").arg("-"),
            b"x = bytearray(64 << 20)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nprint('ok')",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{o:?}");
    let report = o.report_json();
    assert!(report.contains("\"max_memory_kib\""), "{report}");
    if !has_peak {
        assert_eq!(o.max_memory_kib, None, "no memory.peak in this kernel");
        return;
    }
    let peak = o.max_memory_kib.unwrap();
    assert!((64 << 10..256 << 10).contains(&peak), "{peak}");
    // A small program afterwards (in the same pooled, reset leaf, or a fresh one where the
    // kernel cannot reset a v2 peak) reports its own peak.
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
    if cgroups_here().is_none() {
        return;
    }
    let sb = builder()
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
    let e = builder()
        .cgroups(CgroupMode::Off)
        .cpu_quota(500)
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("CPU quota"), "{e}");
    let e = builder().cpu_quota(0).build().unwrap_err();
    assert!(e.to_string().contains("CPU quota"), "{e}");
    let e = builder()
        .cgroup_v2_base("/nonexistent/cgroup")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
}

#[test]
fn leaves_are_pooled_and_removed_with_the_sandbox() {
    let Some(v) = cgroups_here() else {
        return;
    };
    let sb = builder().build().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut reusable = true;
    for i in 0..30 {
        // `cat` waits for stdin, which `wait` closes.
        let child = sb.spawn(&Command::new("cat")).unwrap();
        let leaf = cg_dir(child.pid(), "memory");
        if i == 0 && v == "v2" {
            reusable = v2_peak_resets(&leaf);
        }
        seen.insert(leaf);
        child.wait().unwrap();
    }
    let parent = seen.first().unwrap().parent().unwrap().to_path_buf();
    let leaves_now = || {
        std::fs::read_dir(&parent)
            .unwrap()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    };
    if reusable {
        assert_eq!(seen.len(), 1, "sequential runs reuse one leaf: {seen:?}");
    } else {
        // v2 before Linux 6.12 cannot reset a leaf's peak: a leaf serves one run and is
        // removed after it (the pool keeps one fresh leaf ready).
        assert_eq!(
            seen.len(),
            30,
            "a leaf whose peak cannot be reset is reused"
        );
        assert!(leaves_now() <= 2, "used leaves pile up: {}", leaves_now());
    }
    // Concurrent runs get a leaf each.
    let children: Vec<_> = (0..4)
        .map(|_| sb.spawn(&Command::new("sleep").arg("5")).unwrap())
        .collect();
    let leaves: std::collections::BTreeSet<_> =
        children.iter().map(|c| cg_dir(c.pid(), "memory")).collect();
    assert_eq!(leaves.len(), 4);
    drop(children);
    let clone = sb.clone();
    drop(sb);
    assert!(!pool_dirs().is_empty(), "a clone keeps the pool");
    assert_eq!(
        clone.run(&Command::new("true"), b"").unwrap().verdict,
        Verdict::Ok
    );
    drop(clone);
    for l in leaves {
        assert!(!l.exists(), "{} left behind", l.display());
    }
    assert!(!parent.exists(), "{} left behind", parent.display());
}

#[test]
fn killed_runs_leave_no_tasks_in_the_cgroup() {
    if cgroups_here().is_none() {
        return;
    }
    // The wall time leaves room for the setup on a slow machine (a QEMU TCG guest takes more
    // than 300 ms); the program outlasts it in any case.
    let sb = builder().wall_time(Duration::from_secs(2)).build().unwrap();
    let child = sb
        .spawn(
            &Command::new("sh")
                .arg("-c")
                .arg("sleep 60 & sleep 60 & sleep 60"),
        )
        .unwrap();
    let leaf = cg_dir(child.pid(), "memory");
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::WallTimeLimit);
    // A leaf that cannot be reused (v2 before 6.12) is already removed, which the kernel only
    // allows for an empty cgroup.
    let empty = |leaf: &Path| !leaf.exists() || read(&leaf.join("cgroup.procs")).is_empty();
    assert!(empty(&leaf), "{}", read(&leaf.join("cgroup.procs")));
    // Fork bomb: pids.max holds it, and the leaf is empty afterwards.
    let sb = builder()
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
    let pids_leaf = cg_dir(child.pid(), "pids");
    std::thread::sleep(Duration::from_millis(500));
    let current: u64 = read(&pids_leaf.join("pids.current")).parse().unwrap();
    assert!(current <= 17, "{current}");
    child.wait().unwrap();
    assert!(
        empty(&pids_leaf),
        "{}",
        read(&pids_leaf.join("cgroup.procs"))
    );
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
