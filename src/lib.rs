//! # runcell
//!
//! Run untrusted code on Linux in a hardened, fast, disposable sandbox.
//!
//! A [`Sandbox`] is built once from a [`Profile`] plus builder calls (validated, prepared,
//! immutable, `Send + Sync`) and then runs any number of programs, each in fresh user, PID,
//! mount, network, IPC, UTS and cgroup namespaces, on a minimal read-only root, with rlimits
//! (and cgroups where the host offers them), no capabilities, no_new_privs, landlock and
//! seccomp. A run returns an [`Outcome`] whose [`Verdict`] says how it ended. No helper
//! binary, no daemon, no root needed (unprivileged user namespaces are enough).
//!
//! ```
//! use std::time::Duration;
//! use runcell::{Command, Profile, Sandbox, Verdict};
//!
//! let sandbox = Sandbox::builder()
//!     .profile(Profile::named("python")?)
//!     .wall_time(Duration::from_secs(5))
//!     .build()?;
//! let outcome = sandbox.run(&Command::new("python3").arg("-"), b"print(6 * 7)")?;
//! assert_eq!(outcome.verdict, Verdict::Ok);
//! assert_eq!(outcome.stdout, b"42\n");
//! # Ok::<(), runcell::Error>(())
//! ```
//!
//! Before adopting runcell on a host, run `runcell check` (or call [`check()`]): it probes
//! user namespaces, landlock, seccomp, cgroups and the new mount API, and explains how to fix
//! what is missing.
//!
//! # Threat model
//!
//! The program is hostile: it may be written to escape, to read or change host files, to
//! reach the network, to exhaust the host, or to attack other runs. The host process that
//! embeds runcell, the kernel, and the files the profile binds are trusted. runcell is
//! defence in depth; each layer stops something on its own:
//!
//! | layer | stops |
//! |---|---|
//! | user namespace, unprivileged ids (uid 1000 inside; outside, a host uid leased for the run alone from a dedicated range when the host is root, your own uid otherwise) | acting as host root; every capability the program appears to have is only over its own namespaces, and they are all dropped before exec |
//! | mount namespace, minimal read-only root (tmpfs + the profile's binds, `nosuid,nodev`) | reading host files that are not bound (`/etc/shadow`, `/home`, other runs' files); writing anywhere but the private `/tmp` and working directory |
//! | PID namespace with a minimal init | seeing or signalling host processes; leaving a process behind (killing init kills the whole tree) |
//! | network namespace (no interface but `lo`, down by default) | reaching the network, the host's loopback services, the cloud metadata endpoint |
//! | IPC, UTS, cgroup namespaces | host System V IPC and POSIX message queues; host identity |
//! | new session, no controlling terminal | TIOCSTI-style keystroke injection into the caller's terminal |
//! | rlimits, cgroups (memory, pids, CPU quota), wall-time supervisor, output caps | exhausting memory, processes (fork bombs), CPU, disk (file size, tmpfs size), descriptors, the caller's memory (output is cut at the limit) |
//! | no_new_privs and an empty capability set | gaining privileges through setuid binaries or file capabilities |
//! | landlock | file access outside the sandbox's own paths even if a mount were misconfigured; TCP bind/connect (ABI 4); abstract unix sockets and signals to outside processes (ABI 6) |
//! | seccomp-BPF (the `default` deny-list or the `strict` allow-list) | the kernel attack surface that namespaces do not remove: new namespaces, mount, ptrace, bpf, perf, userfaultfd, io_uring, keyrings, kexec and modules, TIOCSTI ioctls, foreign architectures and x32 |
//!
//! What runcell does not stop: kernel bugs in the system calls it allows, side channels
//! (timing, cache), and reading what you bind into the sandbox. Keep the kernel patched and
//! bind only what the program needs.
//!
//! # Secure defaults
//!
//! [`Sandbox::builder`] starts from the built-in `default` profile: read-only `/usr` (and
//! the usr-merge links), no network, no capabilities, a private 64 MiB `/tmp`, the
//! environment reduced to `PATH`, `HOME=/tmp` and `LANG=C.UTF-8`, a new session, the
//! `default` seccomp policy, landlock required (building fails without it), and limits of
//! 10 s wall, 10 s CPU, 256 MiB memory, 64 processes, 1 MiB of stdout and of stderr, 16 MiB
//! per file and 256 open files. Every weakening is an explicit call:
//! [`SandboxBuilder::bind`] (read-write host files), [`Network::Loopback`],
//! [`SandboxBuilder::seccomp`]`("none")`, [`SandboxBuilder::landlock_best_effort`],
//! [`SandboxBuilder::without_landlock`]. [`Outcome::enforced`] (and [`Sandbox::enforced`])
//! report what was really applied on this kernel, never what was merely asked for.
//!
//! # Choosing limits
//!
//! Set the wall time from the slowest legitimate input, plus margin for a loaded host; it is
//! what bounds how long your caller waits. Set the CPU time at or below the wall time
//! (RLIMIT_CPU is per process and in whole seconds; the total is also checked afterwards).
//! Memory: with cgroups it is the whole sandbox's resident memory (page cache and tmpfs
//! included) and an OOM kill is reported as [`Verdict::MemoryLimit`]; without, it is each
//! process's address space, which runtimes that reserve large ranges need raised (the `java`
//! and `node` profiles do this and bound the real heap with the runtime's own flags). The
//! pids limit counts threads too. The output limit is what the host keeps in memory per
//! stream. [`Limits`] documents each field; [`Enforced::limit_mechanisms`] says which
//! mechanism enforced each limit on this host.
//!
//! # cgroups
//!
//! With [`CgroupMode::Auto`] (the default) runcell uses cgroups where this process may create
//! them: as root on a cgroup v1 or hybrid host, or in a delegated cgroup v2 subtree (pass it
//! with [`SandboxBuilder::cgroup_v2_base`], e.g. a systemd unit with `Delegate=yes`). Each
//! sandbox keeps a small pool of leaf cgroups, so a run does not pay for creating one.
//! [`CgroupMode::Require`] makes building fail where cgroups are unavailable;
//! [`CgroupMode::Off`] uses rlimits only. A CPU quota ([`SandboxBuilder::cpu_quota`]) needs
//! the cpu controller.
//!
//! # Embedding in a synchronous host
//!
//! [`Sandbox::run`] blocks the calling thread until every process of the program is gone (the
//! namespaces' teardown finishes on the sandbox's reaper thread); a `Sandbox` is
//! shared by reference or cheap clone between worker threads:
//!
//! ```
//! use std::thread;
//! use runcell::{Command, Sandbox};
//!
//! let sandbox = Sandbox::builder().build()?;
//! let workers: Vec<_> = (0..4)
//!     .map(|i| {
//!         let sandbox = sandbox.clone();
//!         thread::spawn(move || {
//!             let cmd = Command::new("sh").args(["-c", &format!("echo {i}")]);
//!             sandbox.run(&cmd, b"").map(|o| o.stdout)
//!         })
//!     })
//!     .collect();
//! for (i, w) in workers.into_iter().enumerate() {
//!     assert_eq!(w.join().unwrap()?, format!("{i}\n").into_bytes());
//! }
//! # Ok::<(), runcell::Error>(())
//! ```
//!
//! [`Sandbox::spawn`] gives a [`Child`] with the program's pipes for interactive use. It
//! outlives the thread that called `spawn` (every launch runs on a process-lifetime launcher
//! thread, which is what the kernel's parent-death signal follows), and dies with the process. [`Sandbox::run_with`] streams from and to host file descriptors.
//!
//! # Embedding in an async host
//!
//! With the `tokio` feature, `Sandbox::run_async` and `Sandbox::spawn_async` run on the
//! runtime's reactor (the pidfd and the pipes are registered with it): thousands of sandboxes
//! share the runtime's threads, and dropping the future kills and reaps the sandbox.
#![cfg_attr(
    feature = "tokio",
    doc = r#"
```
use runcell::{Command, Sandbox, Verdict};

let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
rt.block_on(async {
    let sandbox = Sandbox::builder().build()?;
    let outcome = sandbox.run_async(&Command::new("cat"), b"async\n").await?;
    assert_eq!(outcome.verdict, Verdict::Ok);
    assert_eq!(outcome.stdout, b"async\n");
    Ok::<(), runcell::Error>(())
})?;
# Ok::<(), runcell::Error>(())
```
"#
)]
//!
//! # Features
//!
//! - `analyze` (default): [`analyze`], a static analysis of Python source.
//! - `aggregate` (default): [`aggregate`], sectioned aggregation templates run in a sandbox.
//! - `tokio`: the async API (`run_async`, `spawn_async`, `AsyncChild`).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod check;
pub mod error;
pub mod profile;
pub mod sandbox;
mod sys;

#[cfg(feature = "analyze")]
pub mod analyze;

#[cfg(feature = "aggregate")]
pub mod aggregate;

pub use check::{CheckReport, check};
pub use error::{Error, Result};
pub use profile::{Network, Profile};
#[cfg(feature = "tokio")]
pub use sandbox::AsyncChild;
pub use sandbox::{
    CgroupMode, Child, Command, Enforced, HostIdLease, HostIdRange, HostIds, Input, Job, Limits,
    MAX_JOB_ARGS, MAX_JOB_CODE, Outcome, Output, Report, Sandbox, SandboxBuilder, Verdict,
    Violation, WORKSPACE_DIR, WarmCell, WarmConfig, WarmPool, WarmStats, Workspace, hand_over,
};
