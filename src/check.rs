//! Preflight: will runcell work on this host, and what will it enforce?
//!
//! [`check`] probes the host the way a run uses it — it really creates namespaces, mounts in
//! them, installs seccomp filters, creates a cgroup and finally runs `true` in the default
//! sandbox — rather than only reading sysctls, so the answer holds for this process with its
//! uid, its container and its security modules. Where something is missing the report says
//! why and gives the fix (the sysctl, AppArmor or container setting). `runcell check` prints
//! the same report (`--format json` for tools) and exits 0 when the default profile can run.
//!
//! ```
//! let report = runcell::check();
//! println!("{report}");
//! if !report.default_profile_runs() {
//!     for p in &report.problems {
//!         eprintln!("{}: {}", p.what, p.fix);
//!     }
//! }
//! ```

use std::ffi::CString;
use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};

use serde::Serialize;

use crate::profile::Profile;
use crate::sandbox::{CgroupMode, Command, Enforced, Sandbox};
use crate::sys;

/// The result of one probe: did the operation succeed, what happened, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Probe {
    /// The operation succeeded.
    pub ok: bool,
    /// What was tried and what happened (the errno, when it failed).
    pub detail: String,
}

impl Probe {
    fn yes(detail: impl Into<String>) -> Probe {
        Probe {
            ok: true,
            detail: detail.into(),
        }
    }
    fn no(detail: impl Into<String>) -> Probe {
        Probe {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Landlock support of the running kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LandlockCheck {
    /// The ABI version (0: landlock is missing or disabled).
    pub abi: i32,
    /// File-system restriction (ABI 1; the default profiles require it).
    pub fs: bool,
    /// TCP bind/connect restriction (ABI 4).
    pub net: bool,
    /// Abstract unix socket and signal scoping (ABI 6).
    pub scope: bool,
}

/// seccomp support, probed by installing filters in a short-lived child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SeccompCheck {
    /// A BPF filter can be installed (after no_new_privs).
    pub filter: Probe,
    /// A filter with a user-notification listener can be installed (the `strict` policy
    /// reports forbidden calls through it).
    pub user_notification: Probe,
    /// The actions the kernel offers (`/proc/sys/kernel/seccomp/actions_avail`).
    pub actions: Vec<String>,
}

/// The host's cgroups and whether runcell can use them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CgroupCheck {
    /// How the host mounts cgroups: `v2` (unified), `v1`, `hybrid` (v1 controllers beside a
    /// v2 mount) or `none`.
    pub host: String,
    /// This process's cgroup v2 path (`0::` line of /proc/self/cgroup), when it has one.
    pub own_v2_cgroup: Option<String>,
    /// Whether a hierarchy delegated to this process carries the memory and pids controllers
    /// (and which version), or why not.
    pub delegated: Probe,
    /// Whether the cpu controller is available too (needed for a CPU quota).
    pub cpu_controller: bool,
    /// Whether this process really created (and removed) a cgroup for a sandbox.
    pub can_create: Probe,
}

/// The ids the program runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IdMapping {
    /// uid inside the sandbox (default profile).
    pub uid: u32,
    /// gid inside the sandbox.
    pub gid: u32,
    /// Host uid it maps to: this process's uid when unprivileged; as root the profile's fixed
    /// `host_uid`, or the first id of `host_id_range` (each run leases its own from there).
    pub host_uid: u32,
    /// Host gid it maps to (as `host_uid`).
    pub host_gid: u32,
    /// As root by default: the range each run leases its host uid (and the gid of the same
    /// number) from.
    pub host_id_range: Option<crate::sandbox::HostIdRange>,
}

/// Something that stops runcell (or one of its layers) on this host, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Problem {
    /// What is missing and why.
    pub what: String,
    /// How to fix it (commands or settings).
    pub fix: String,
    /// Whether it stops the default profile from running (otherwise only an optional
    /// feature is affected).
    pub blocking: bool,
}

/// What this host supports and what runcell will enforce; see [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU architecture runcell was built for.
    pub arch: &'static str,
    /// Effective uid and gid of this process.
    pub euid: u32,
    /// Effective gid of this process.
    pub egid: u32,
    /// The container runtime this process seems to run in (`docker`, `podman`,
    /// `kubernetes`, `lxc`), when there is a sign of one.
    pub container: Option<String>,
    /// A child created a user namespace (`clone(CLONE_NEWUSER)`).
    pub user_namespace: Probe,
    /// A child created all the namespaces of a sandbox at once (user, PID, mount, network,
    /// IPC, UTS, cgroup).
    pub all_namespaces: Probe,
    /// In its own user and mount namespaces, a child could make `/` private and mount a
    /// tmpfs (fails when AppArmor or a container denies capabilities in new namespaces).
    pub mount_in_user_namespace: Probe,
    /// The new mount API: `open_tree` (tried in the same child).
    pub open_tree: Probe,
    /// The new mount API: `mount_setattr` (tried in the same child; older kernels fall back
    /// to remounts).
    pub mount_setattr: Probe,
    /// `clone3` exists (runcell falls back to `clone` without it).
    pub clone3: Probe,
    /// Landlock ABI and features.
    pub landlock: LandlockCheck,
    /// seccomp filters and user notification.
    pub seccomp: SeccompCheck,
    /// cgroup layout and delegation.
    pub cgroups: CgroupCheck,
    /// The ids the program runs as.
    pub ids: IdMapping,
    /// The default profile built and ran `true` (the final word: `runcell check` exits 0
    /// exactly when this is ok).
    pub default_profile: Probe,
    /// What the default profile enforces here, when it could be built.
    pub enforced: Option<Enforced>,
    /// Everything that stops runcell or one of its layers, with the fix.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether a sandbox with the default profile can run here.
    pub fn default_profile_runs(&self) -> bool {
        self.default_profile.ok
    }

    /// The report as pretty-printed JSON (what `runcell check --format json` prints).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// Stands for "the probe process died before it could report" in probe results.
const DIED: sys::Errno = -1;

fn errno_text(e: sys::Errno) -> String {
    if e == DIED {
        return "the probe process died before reporting (killed by a seccomp filter or a \
                security module?)"
            .to_string();
    }
    // "No space left on device (os error 28)".
    std::io::Error::from_raw_os_error(e).to_string()
}

fn read_trim(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Run `child` in a fork-like child (clone with `flags`), which reports up to four errnos
/// through a pipe (0 = success) and exits. Returns the clone's own errno on failure.
///
/// `child` runs between clone and exit: it may only make async-signal-safe calls (raw
/// system calls on data prepared before; no allocation, locks or formatting).
fn in_child(
    flags: u64,
    child: impl Fn() -> [sys::Errno; 4],
) -> Result<[sys::Errno; 4], sys::Errno> {
    let (r, w) = sys::pipe(0)?;
    // OwnedFd takes the descriptors so every path closes them.
    let r = own(r);
    let w = own(w);
    let cloned = sys::clone_pidfd(flags);
    match cloned {
        Ok(None) => {
            let res = child();
            let mut buf = [0u8; 16];
            for (i, e) in res.iter().enumerate() {
                buf[i * 4..i * 4 + 4].copy_from_slice(&e.to_ne_bytes());
            }
            let _ = sys::write_all(raw(&w), &buf);
            sys::exit(0);
        }
        Err(e) => Err(e),
        Ok(Some((_pid, pidfd))) => {
            let pidfd = own(pidfd);
            drop(w);
            let mut buf = [0u8; 16];
            let mut got = 0;
            while got < buf.len() {
                match sys::retry(|| sys::read(raw(&r), &mut buf[got..])) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            // A clone child without an exit signal: reaped through its pidfd.
            let _ = sys::waitid_pidfd(raw(&pidfd));
            if got < buf.len() {
                return Ok([DIED; 4]);
            }
            let mut out = [0; 4];
            for (i, e) in out.iter_mut().enumerate() {
                let mut b = [0u8; 4];
                b.copy_from_slice(&buf[i * 4..i * 4 + 4]);
                *e = i32::from_ne_bytes(b);
            }
            Ok(out)
        }
    }
}

fn own(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by pipe/clone and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn raw(fd: &OwnedFd) -> std::os::fd::RawFd {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn res(r: sys::SysResult<()>) -> sys::Errno {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

const SANDBOX_NAMESPACES: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u64;

/// Probe the host; see the [module documentation](self). Takes a few milliseconds: it starts
/// a handful of short-lived processes and one sandbox.
pub fn check() -> CheckReport {
    // SAFETY: geteuid/getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut problems = Vec::new();
    let container = detect_container();

    // User namespace alone: the clone itself is the probe.
    let user_namespace = match in_child(libc::CLONE_NEWUSER as u64, || [0; 4]) {
        Ok(_) => Probe::yes("clone(CLONE_NEWUSER) succeeded"),
        Err(e) => {
            let p = Probe::no(format!("clone(CLONE_NEWUSER) failed: {}", errno_text(e)));
            problems.push(userns_problem(e, euid, container.as_deref()));
            p
        }
    };
    let all_namespaces = match in_child(SANDBOX_NAMESPACES, || [0; 4]) {
        Ok(_) => {
            Probe::yes("clone with user, pid, mount, net, ipc, uts and cgroup namespaces succeeded")
        }
        Err(e) => {
            if user_namespace.ok {
                problems.push(Problem {
                    what: format!(
                        "a user namespace can be created but not the sandbox's other namespaces: {}",
                        errno_text(e)
                    ),
                    fix: "check user.max_pid_namespaces, user.max_net_namespaces, \
                          user.max_mnt_namespaces, user.max_ipc_namespaces, \
                          user.max_uts_namespaces and user.max_cgroup_namespaces \
                          (sysctl -a | grep max_.*_namespaces) and the container's seccomp \
                          profile"
                        .into(),
                    blocking: true,
                });
            }
            Probe::no(format!(
                "clone with the sandbox's namespaces failed: {}",
                errno_text(e)
            ))
        }
    };

    // Mounting inside a new user + mount namespace, with the new mount API.
    let slash = CString::from(c"/");
    let tmp = CString::from(c"/tmp");
    let tmpfs = CString::from(c"tmpfs");
    let mount_probe = in_child((libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64, || {
        let private = res(sys::mount(
            None,
            &slash,
            None,
            libc::MS_REC | libc::MS_PRIVATE,
            None,
        ));
        let fresh = if private == 0 {
            res(sys::mount(Some(&tmpfs), &tmp, Some(&tmpfs), 0, None))
        } else {
            private
        };
        let tree = match sys::open_tree_clone_path(&tmp) {
            Ok(fd) => {
                sys::close(fd);
                0
            }
            Err(e) => e,
        };
        // MOUNT_ATTR_RDONLY on the tmpfs just mounted (or on / when that failed).
        let target = if fresh == 0 { &tmp } else { &slash };
        let setattr = match sys::open(
            target,
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        ) {
            Ok(fd) => {
                let r = res(sys::mount_setattr_fd(fd, false, 1));
                sys::close(fd);
                r
            }
            Err(e) => e,
        };
        [private, fresh, tree, setattr]
    });
    let (mount_in_user_namespace, open_tree, mount_setattr) = match mount_probe {
        Err(e) => {
            let skipped = || Probe::no(format!("not tried: no user namespace ({})", errno_text(e)));
            (skipped(), skipped(), skipped())
        }
        Ok([private, fresh, tree, setattr]) => {
            let m = if private != 0 {
                Probe::no(format!(
                    "making / private in a new mount namespace failed: {}",
                    errno_text(private)
                ))
            } else if fresh != 0 {
                Probe::no(format!("mounting a tmpfs failed: {}", errno_text(fresh)))
            } else {
                Probe::yes("made / private and mounted a tmpfs in a new user and mount namespace")
            };
            if !m.ok {
                problems.push(mount_problem(euid, container.as_deref(), &m.detail));
            }
            let api = |name: &str, e: sys::Errno| match e {
                0 => Probe::yes(format!("{name} succeeded")),
                libc::ENOSYS => Probe::no(format!("{name}: not offered by the kernel (ENOSYS)")),
                e => Probe::no(format!("{name} failed: {}", errno_text(e))),
            };
            (m, api("open_tree", tree), api("mount_setattr", setattr))
        }
    };
    if !mount_setattr.ok && mount_in_user_namespace.ok {
        problems.push(Problem {
            what: format!("mount_setattr is unavailable ({})", mount_setattr.detail),
            fix:
                "nothing required: runcell falls back to remounts (Linux >= 5.12 has mount_setattr)"
                    .into(),
            blocking: false,
        });
    }

    let clone3 = match sys::clone3_probe() {
        libc::EINVAL | 0 => Probe::yes("clone3 exists"),
        e => {
            problems.push(Problem {
                what: format!("clone3 is unavailable: {}", errno_text(e)),
                fix: "nothing required: runcell falls back to clone (Linux >= 5.3 has clone3; \
                      a container runtime's seccomp profile may hide it)"
                    .into(),
                blocking: false,
            });
            Probe::no(format!("clone3: {}", errno_text(e)))
        }
    };

    let abi = sys::landlock_abi();
    let landlock = LandlockCheck {
        abi,
        fs: abi >= 1,
        net: abi >= 4,
        scope: abi >= 6,
    };
    if abi < 1 {
        problems.push(Problem {
            what: "landlock is unavailable (the default profiles require its file-system \
                   restriction)"
                .into(),
            fix: "boot a kernel with CONFIG_SECURITY_LANDLOCK=y and `landlock` in the lsm= list \
                  (cat /sys/kernel/security/lsm), or accept less with a profile setting \
                  [landlock] best_effort = true"
                .into(),
            blocking: true,
        });
    }

    let seccomp = seccomp_check(&mut problems);
    let cgroups = cgroup_check(&mut problems);

    let profile = Profile::named("default").ok();
    let ids = match &profile {
        Some(p) => {
            use crate::sandbox::HostIds;
            let (host_uid, host_gid, host_id_range) = match (euid, p.host_ids) {
                (0, HostIds::Range(r)) => (r.first(), r.first(), Some(r)),
                (0, HostIds::Fixed { uid, gid }) => (uid, gid, None),
                _ => (euid, egid, None),
            };
            IdMapping {
                uid: p.uid,
                gid: p.gid,
                host_uid,
                host_gid,
                host_id_range,
            }
        }
        None => IdMapping {
            uid: 0,
            gid: 0,
            host_uid: euid,
            host_gid: egid,
            host_id_range: None,
        },
    };

    let (default_profile, enforced) = match Sandbox::builder().build() {
        Err(e) => (
            Probe::no(format!("building the default sandbox failed: {e}")),
            None,
        ),
        Ok(sb) => {
            let enforced = Some(sb.enforced().clone());
            match sb.run(&Command::new("true"), b"") {
                Ok(o) if o.success() => (Probe::yes("ran `true` in the default sandbox"), enforced),
                Ok(o) => (
                    Probe::no(format!(
                        "`true` in the default sandbox ended with {}",
                        o.verdict
                    )),
                    enforced,
                ),
                Err(e) => (
                    Probe::no(format!("running the default sandbox failed: {e}")),
                    enforced,
                ),
            }
        }
    };
    if !default_profile.ok && !problems.iter().any(|p| p.blocking) {
        problems.push(Problem {
            what: default_profile.detail.clone(),
            fix: "see the error above; the README's Troubleshooting section lists the usual \
                  causes"
                .into(),
            blocking: true,
        });
    }

    CheckReport {
        kernel: read_trim("/proc/sys/kernel/osrelease").unwrap_or_default(),
        arch: std::env::consts::ARCH,
        euid,
        egid,
        container,
        user_namespace,
        all_namespaces,
        mount_in_user_namespace,
        open_tree,
        mount_setattr,
        clone3,
        landlock,
        seccomp,
        cgroups,
        ids,
        default_profile,
        enforced,
        problems,
    }
}

fn detect_container() -> Option<String> {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return Some("kubernetes".into());
    }
    if std::path::Path::new("/.dockerenv").exists() {
        return Some("docker".into());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        return Some("podman".into());
    }
    // systemd and LXC set `container=` in PID 1's environment.
    let env = std::fs::read("/proc/1/environ").unwrap_or_default();
    env.split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"container="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

const CONTAINER_FIX: &str = "in Docker: docker run --security-opt seccomp=policies/container/seccomp.json \
     --security-opt apparmor=unconfined --security-opt systempaths=unconfined ... (the seccomp \
     file allows unshare/clone with namespace flags, which Docker's default profile denies); \
     in Kubernetes: securityContext.seccompProfile {type: Localhost, localhostProfile: \
     runcell-seccomp.json}, appArmorProfile {type: Unconfined} and procMount: Unmasked (see \
     README, Troubleshooting)";

fn userns_problem(e: sys::Errno, euid: u32, container: Option<&str>) -> Problem {
    let max = read_trim("/proc/sys/user/max_user_namespaces");
    let unpriv = read_trim("/proc/sys/kernel/unprivileged_userns_clone");
    let (what, fix) = if max.as_deref() == Some("0") || e == libc::ENOSPC {
        (
            format!(
                "user namespaces are disabled or exhausted: user.max_user_namespaces = {} \
                 (clone: {})",
                max.as_deref().unwrap_or("?"),
                errno_text(e)
            ),
            "sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/); inside a \
             container, the limit is the one of the container's user namespace"
                .to_string(),
        )
    } else if euid != 0 && unpriv.as_deref() == Some("0") {
        (
            format!(
                "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone = 0 \
                 (clone: {})",
                errno_text(e)
            ),
            "sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/), or \
             run as root"
                .to_string(),
        )
    } else if e == libc::EPERM && seccomp_filtered() {
        (
            format!(
                "a seccomp filter on this process denies creating namespaces (clone: {}; \
                 `Seccomp: 2` in /proc/self/status){}; Docker's default seccomp profile does \
                 this to containers without CAP_SYS_ADMIN",
                errno_text(e),
                container
                    .map(|c| format!(", in a {c} container"))
                    .unwrap_or_default()
            ),
            format!(
                "run runcell under a seccomp profile that allows unshare, clone with namespace \
                 flags and the mount calls: {CONTAINER_FIX}"
            ),
        )
    } else if container.is_some() {
        (
            format!(
                "creating a user namespace is denied in this {} container (clone: {}); \
                 Docker's default seccomp profile denies unshare and clone with namespace \
                 flags",
                container.unwrap_or("?"),
                errno_text(e)
            ),
            CONTAINER_FIX.to_string(),
        )
    } else {
        (
            format!("creating a user namespace failed: {}", errno_text(e)),
            "check user.max_user_namespaces, kernel.unprivileged_userns_clone, a seccomp \
             filter on this process (grep Seccomp /proc/self/status) and the security modules"
                .to_string(),
        )
    };
    Problem {
        what,
        fix,
        blocking: true,
    }
}

/// Whether a seccomp filter is installed on this process (`Seccomp: 2`).
fn seccomp_filtered() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Seccomp:") && l.split_whitespace().nth(1) == Some("2"))
}

fn mount_problem(euid: u32, container: Option<&str>, detail: &str) -> Problem {
    let apparmor = read_trim("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let (what, fix) = if euid != 0 && apparmor.as_deref() == Some("1") {
        (
            format!(
                "AppArmor restricts unprivileged user namespaces \
                 (kernel.apparmor_restrict_unprivileged_userns = 1, the default on Ubuntu \
                 23.10 and later): {detail}"
            ),
            "give the runcell binary (or your service's binary) an AppArmor profile that \
             allows user namespaces: /etc/apparmor.d/runcell with `abi <abi/4.0>, include \
             <tunables/global> profile runcell /usr/local/bin/runcell flags=(unconfined) { \
             userns, }` then `apparmor_parser -r /etc/apparmor.d/runcell`; or, for the whole \
             host, sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
                .to_string(),
        )
    } else if seccomp_filtered() && detail.contains("Operation not permitted") {
        (
            format!(
                "mounting inside a new user namespace is denied, and a seccomp filter is on \
                 this process (`Seccomp: 2` in /proc/self/status), the likely cause: {detail}"
            ),
            format!(
                "run runcell under a seccomp profile that allows mount, umount2, pivot_root \
                 and the new mount API: {CONTAINER_FIX}"
            ),
        )
    } else if container.is_some() {
        (
            format!("mounting inside a new user namespace is denied in this container: {detail}"),
            CONTAINER_FIX.to_string(),
        )
    } else {
        (
            format!("mounting inside a new user namespace is denied: {detail}"),
            "check the security modules (AppArmor, SELinux) for rules on mount and userns"
                .to_string(),
        )
    };
    Problem {
        what,
        fix,
        blocking: true,
    }
}

fn seccomp_check(problems: &mut Vec<Problem>) -> SeccompCheck {
    // An allow-everything program: BPF_RET | BPF_K, SECCOMP_RET_ALLOW.
    let allow = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    }];
    let probe = in_child(0, || {
        let nnp = res(sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0));
        if nnp != 0 {
            return [nnp, nnp, 0, 0];
        }
        let filter = match sys::seccomp_install(&allow, 0) {
            Ok(_) => 0,
            Err(e) => e,
        };
        let notif = match sys::seccomp_install(
            &allow,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong,
        ) {
            Ok(fd) => {
                sys::close(fd);
                0
            }
            Err(e) => e,
        };
        [filter, notif, 0, 0]
    });
    let actions: Vec<String> = read_trim("/proc/sys/kernel/seccomp/actions_avail")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let (filter, user_notification) = match probe {
        Err(e) => (
            Probe::no(format!(
                "could not start a probe process: {}",
                errno_text(e)
            )),
            Probe::no("not tried"),
        ),
        Ok([f, n, _, _]) => (
            if f == 0 {
                Probe::yes("installed a seccomp filter")
            } else {
                Probe::no(format!(
                    "installing a seccomp filter failed: {}",
                    errno_text(f)
                ))
            },
            if n == 0 {
                Probe::yes("installed a filter with a user-notification listener")
            } else {
                Probe::no(format!(
                    "a filter with a user-notification listener failed: {}",
                    errno_text(n)
                ))
            },
        ),
    };
    if !filter.ok {
        problems.push(Problem {
            what: format!("seccomp filters are unavailable: {}", filter.detail),
            fix: "boot a kernel with CONFIG_SECCOMP_FILTER=y".into(),
            blocking: true,
        });
    } else if !user_notification.ok {
        problems.push(Problem {
            what: format!(
                "seccomp user notification is unavailable (the strict policy needs it): {}",
                user_notification.detail
            ),
            fix: "Linux >= 5.0; a policy with kill = \"process\" works without it".into(),
            blocking: false,
        });
    }
    SeccompCheck {
        filter,
        user_notification,
        actions,
    }
}

fn cgroup_check(problems: &mut Vec<Problem>) -> CgroupCheck {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let (mut v1, mut v2) = (false, false);
    for line in mountinfo.lines() {
        // The filesystem type follows the " - " separator.
        if let Some((_, after)) = line.split_once(" - ") {
            match after.split_whitespace().next() {
                Some("cgroup") => v1 = true,
                Some("cgroup2") => v2 = true,
                _ => {}
            }
        }
    }
    let host = match (v1, v2) {
        (true, true) => "hybrid",
        (true, false) => "v1",
        (false, true) => "v2",
        (false, false) => "none",
    }
    .to_string();
    let own_v2_cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string));
    let (delegated, cpu_controller) = match crate::sandbox::cgroup::detect(None) {
        Ok(d) => (
            Probe::yes(format!("{} with memory and pids", d.mechanism())),
            d.cpu(),
        ),
        Err(reason) => (Probe::no(reason), false),
    };
    // The real test: create (and remove) a sandbox's cgroup. A single-run sandbox makes its
    // leaf at build time (another waits for its first run). Other layers are relaxed so that
    // only the cgroups can make this fail.
    let can_create = match Sandbox::builder()
        .cgroups(CgroupMode::Require)
        .single_run(true)
        // Nothing runs: no network namespace made ahead for it.
        .network_namespace_pool(false)
        .landlock_best_effort(true)
        .seccomp("none")
        .build()
    {
        Ok(sb) => Probe::yes(format!(
            "created a sandbox cgroup ({})",
            sb.enforced().cgroup
        )),
        Err(e) => Probe::no(e.to_string()),
    };
    if !can_create.ok {
        problems.push(Problem {
            what: format!(
                "cgroups are not usable, so memory and process limits apply per process \
                 (rlimits) and an OOM kill is not reported as memory_limit: {}",
                can_create.detail
            ),
            fix: "run as root on a cgroup v1/hybrid host, or give the service a delegated cgroup \
                  v2 subtree (systemd: Delegate=yes, or systemd-run --user -p Delegate=yes) with \
                  memory and pids in its cgroup.subtree_control and pass it with \
                  SandboxBuilder::cgroup_v2_base"
                .into(),
            blocking: false,
        });
    }
    CgroupCheck {
        host,
        own_v2_cgroup,
        delegated,
        cpu_controller,
        can_create,
    }
}

fn mark(p: &Probe) -> &'static str {
    if p.ok { "yes" } else { "NO " }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "runcell check: kernel {} ({}), euid {}{}",
            self.kernel,
            self.arch,
            self.euid,
            self.container
                .as_deref()
                .map(|c| format!(", in a {c} container"))
                .unwrap_or_default()
        )?;
        let line = |f: &mut fmt::Formatter<'_>, name: &str, p: &Probe| {
            writeln!(f, "  {:<26} {}  {}", name, mark(p), p.detail)
        };
        line(f, "user namespace", &self.user_namespace)?;
        line(f, "all sandbox namespaces", &self.all_namespaces)?;
        line(f, "mount in user namespace", &self.mount_in_user_namespace)?;
        line(f, "open_tree", &self.open_tree)?;
        line(f, "mount_setattr", &self.mount_setattr)?;
        line(f, "clone3", &self.clone3)?;
        let l = &self.landlock;
        writeln!(
            f,
            "  {:<26} {}  ABI {} (fs {}, net {}, scope {})",
            "landlock",
            if l.fs { "yes" } else { "NO " },
            l.abi,
            l.fs,
            l.net,
            l.scope
        )?;
        line(f, "seccomp filter", &self.seccomp.filter)?;
        line(
            f,
            "seccomp user notification",
            &self.seccomp.user_notification,
        )?;
        writeln!(
            f,
            "  {:<26} {}  host {}{}",
            "cgroups",
            mark(&self.cgroups.can_create),
            self.cgroups.host,
            self.cgroups
                .own_v2_cgroup
                .as_deref()
                .map(|c| format!(", own v2 cgroup {c}"))
                .unwrap_or_default()
        )?;
        writeln!(f, "    delegated: {}", self.cgroups.delegated.detail)?;
        writeln!(f, "    create:    {}", self.cgroups.can_create.detail)?;
        match &self.ids.host_id_range {
            Some(r) => writeln!(
                f,
                "  {:<26} uid {} gid {} inside -> one host uid per run from {r} (gid the same)",
                "sandbox ids", self.ids.uid, self.ids.gid
            )?,
            None => writeln!(
                f,
                "  {:<26} uid {} gid {} inside -> host uid {} gid {}",
                "sandbox ids", self.ids.uid, self.ids.gid, self.ids.host_uid, self.ids.host_gid
            )?,
        }
        if let Some(e) = &self.enforced {
            let mech: Vec<String> = e
                .limit_mechanisms
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            writeln!(
                f,
                "  {:<26} seccomp {}, landlock ABI {} (fs {}, net {}, scope {}), cgroup {}",
                "default profile enforces",
                e.seccomp,
                e.landlock.abi,
                e.landlock.fs,
                e.landlock.net,
                e.landlock.scope,
                e.cgroup
            )?;
            writeln!(f, "    limits: {}", mech.join(" "))?;
        }
        line(f, "default profile runs", &self.default_profile)?;
        for p in &self.problems {
            writeln!(
                f,
                "\n{}: {}\n  fix: {}",
                if p.blocking { "problem" } else { "note" },
                p.what,
                p.fix
            )?;
        }
        if self.default_profile.ok {
            write!(f, "\nOK: the default profile can run here.")
        } else {
            write!(f, "\nFAILED: the default profile cannot run here.")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userns_explanations_name_the_sysctl() {
        let p = userns_problem(libc::ENOSPC, 1000, None);
        assert!(p.what.contains("user.max_user_namespaces"), "{p:?}");
        assert!(
            p.fix.contains("sysctl -w user.max_user_namespaces="),
            "{p:?}"
        );
        let p = userns_problem(libc::EPERM, 1000, Some("docker"));
        assert!(p.fix.contains("seccomp="), "{p:?}");
    }
}
