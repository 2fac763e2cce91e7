//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use runcell::{Command, Outcome, Profile, Sandbox, SandboxBuilder};

/// The environment variable naming a delegated cgroup v2 directory for the tests' sandboxes.
pub const CGROUP_V2_BASE_ENV: &str = "RUNCELL_TEST_CGROUP_V2_BASE";

/// The delegated cgroup v2 directory the tests' sandboxes create their cgroups under, from
/// `RUNCELL_TEST_CGROUP_V2_BASE`. The QEMU guests of tests/qemu set it: there the test process
/// sits in a leaf (`main`) of a subtree delegated the way systemd delegates a service's
/// cgroup, and automatic detection, which only looks at the process's own cgroup, finds no
/// controllers. Unset (the normal case): automatic detection.
pub fn cgroup_v2_base() -> Option<PathBuf> {
    std::env::var_os(CGROUP_V2_BASE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `Sandbox::builder()`, with the tests' cgroup v2 base (see [`cgroup_v2_base`]) when set: a
/// base that does not work then fails the build instead of falling back to rlimits.
pub fn builder() -> SandboxBuilder {
    match cgroup_v2_base() {
        Some(base) => Sandbox::builder().cgroup_v2_base(base),
        None => Sandbox::builder(),
    }
}

/// The wall time of the helpers' sandboxes: a backstop for a program that hangs, not a limit
/// a test checks (those set their own). Generous, because in the QEMU guests of tests/qemu (TCG
/// on a loaded 2-core host) starting Python has taken over 20 s.
pub const BACKSTOP_WALL_TIME: Duration = Duration::from_secs(60);

/// A builder on the python profile with short limits suited to tests.
pub fn python_builder() -> SandboxBuilder {
    builder()
        .profile(Profile::named("python").expect("python profile"))
        .wall_time(BACKSTOP_WALL_TIME)
}

/// Run a Python snippet (stdin) in a sandbox built from `b`.
pub fn py_with(b: SandboxBuilder, code: &str) -> Outcome {
    let sb = b.build().expect("build sandbox");
    sb.run(&Command::new("python3").arg("-"), code.as_bytes())
        .expect("run")
}

/// Run a Python snippet in the python profile.
pub fn py(code: &str) -> Outcome {
    py_with(python_builder(), code)
}

/// Run `sh -c script` in the default profile.
pub fn sh(script: &str) -> Outcome {
    let sb = builder()
        .wall_time(BACKSTOP_WALL_TIME)
        .build()
        .expect("build");
    sb.run(&Command::new("sh").arg("-c").arg(script), b"")
        .expect("run")
}

pub fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Number of open fds of this process, leaving out network-namespace descriptors: a root
/// host keeps a few process-wide (the pool of namespaces made ahead of time, at most 2 of
/// each kind, and each launcher thread's own, at most 8, and the pool thread's), a number
/// that moves as the pool refills. More than that is a leak, and fails here.
pub fn fd_count() -> usize {
    let mut netns = 0;
    let n = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let ns = std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("net:["));
                    netns += usize::from(ns);
                    !ns
                })
                .count()
        })
        .unwrap_or(0);
    assert!(
        netns <= 2 * 2 + 8 + 1,
        "{netns} network-namespace descriptors open"
    );
    n
}

/// Host pids whose command line contains `needle`.
pub fn host_pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let me = std::process::id();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(needle) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// Host pids of this process's children that are a sandbox's runcell-init (cold runs still
/// being reaped, warm cells).
pub fn sandbox_inits() -> std::collections::BTreeSet<u32> {
    let mut out = std::collections::BTreeSet::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        for pid in children
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
        {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "runcell-init" {
                out.insert(pid);
            }
        }
    }
    out
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
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

/// How long a test waits for something that must happen before calling it a hang. Not a
/// speed requirement: a correct sandbox makes the condition true long before on any machine;
/// the ceiling only turns a real hang into a failure with a message.
pub const HANG: Duration = Duration::from_secs(120);

/// Wait until `cond` holds (polling), or panic naming `what` after [`HANG`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < HANG, "hang: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The entries of the host's /tmp that runcell could have left (its staging point
/// `/tmp/.oldroot`, anything named after it). Other processes on the machine create and
/// remove their own /tmp entries at any time, so a plain count would depend on them.
pub fn runcell_tmp_entries() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/tmp")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".oldroot") || n.contains("runcell"))
                .collect()
        })
        .unwrap_or_default()
}

/// Run `f` as root and as an unprivileged host (uid 65534, re-running this test binary with
/// only the test named `test`); on an unprivileged host, only unprivileged.
pub fn as_root_and_unprivileged(test: &str, f: fn()) {
    if std::env::var_os("RUNCELL_UNPRIV_CHILD").is_some() || !is_root() {
        if is_root() {
            // SAFETY: the re-run test process runs this one test on one thread.
            unsafe {
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
                assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
                assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
            }
        }
        f();
        println!("UNPRIV-DONE");
        return;
    }
    f();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("RUNCELL_UNPRIV_CHILD", "1")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "unprivileged run failed:\n{text}");
    assert!(text.contains("UNPRIV-DONE"), "{text}");
}
