//! `runcell::check()`: the preflight report agrees with what the host really does, as root and
//! unprivileged, and explains disabled user namespaces with the sysctl that fixes them.

mod common;

use common::*;
use runcell::{CgroupMode, Command, Sandbox};

/// Facts the report must agree with, observed independently of it.
fn assert_consistent(r: &runcell::CheckReport) {
    // SAFETY: plain getter.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(r.euid, euid);
    // The final word matches a real run.
    let runs = Sandbox::builder()
        .build()
        .and_then(|sb| sb.run(&Command::new("true"), b""))
        .is_ok_and(|o| o.success());
    assert_eq!(r.default_profile_runs(), runs, "{r}");
    assert_eq!(
        r.problems.iter().any(|p| p.blocking),
        !runs,
        "blocking problems iff the default profile cannot run: {r}"
    );
    // Landlock: the LSM list names it exactly when an ABI is reported.
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    if !lsm.is_empty() {
        assert_eq!(lsm.contains("landlock"), r.landlock.abi >= 1, "{lsm}");
    }
    // User notification is offered exactly when the kernel lists the action.
    assert_eq!(
        r.seccomp.actions.iter().any(|a| a == "user_notif"),
        r.seccomp.user_notification.ok,
        "{r}"
    );
    // cgroups: the probe agrees with building a sandbox that requires them.
    let required = Sandbox::builder()
        .cgroups(CgroupMode::Require)
        .landlock_best_effort(true)
        .seccomp("none")
        .build()
        .is_ok();
    assert_eq!(r.cgroups.can_create.ok, required, "{r}");
    if !required {
        assert!(
            r.problems
                .iter()
                .any(|p| !p.blocking && p.what.contains("cgroups")),
            "{r}"
        );
        if let Some(e) = &r.enforced {
            assert_eq!(e.limit_mechanisms.get("memory"), Some(&"rlimit"));
        }
    }
    // The ids: an unprivileged host maps the sandbox to itself; root leases one uid per run
    // from the default range (never `nobody`, which the system shares).
    if euid == 0 {
        let range = runcell::HostIdRange::DEFAULT;
        assert_eq!(r.ids.host_id_range, Some(range));
        assert_eq!(
            (r.ids.host_uid, r.ids.host_gid),
            (range.first(), range.first())
        );
        assert!(
            r.to_string()
                .contains("one host uid per run from 80000-96383"),
            "{r}"
        );
    } else {
        assert_eq!(r.ids.host_uid, euid);
        assert_eq!(r.ids.host_id_range, None);
    }
    // JSON for tools has the same content.
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["default_profile"]["ok"], runs);
    assert_eq!(v["landlock"]["abi"], r.landlock.abi);
    assert_eq!(v["ids"]["host_uid"], r.ids.host_uid);
    if euid == 0 {
        assert_eq!(v["ids"]["host_id_range"], "80000-96383");
    }
}

/// Run this test binary's test `name` again as a child (optionally under `wrapper`, and as
/// uid/gid 65534 when `unprivileged`), with `env` set; returns its combined output.
fn rerun(name: &str, env: &str, wrapper: &[&str], unprivileged: bool) -> String {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if wrapper.is_empty() {
        std::process::Command::new(&exe)
    } else {
        let mut c = std::process::Command::new(wrapper[0]);
        c.args(&wrapper[1..]).arg(&exe);
        c
    };
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, "1");
    if unprivileged && is_root() {
        // std drops the supplementary groups too when root sets a uid.
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn check_agrees_with_the_host() {
    let r = runcell::check();
    assert_consistent(&r);
    // This suite's own hosts can run sandboxes (every other test depends on it).
    assert!(r.default_profile_runs(), "{r}");
    assert!(r.user_namespace.ok && r.all_namespaces.ok, "{r}");
    assert!(r.mount_in_user_namespace.ok, "{r}");
    let text = r.to_string();
    assert!(
        text.contains("OK: the default profile can run here."),
        "{text}"
    );
}

#[test]
fn check_agrees_with_the_host_unprivileged() {
    if std::env::var_os("RUNCELL_CHECK_UNPRIV").is_some() || !is_root() {
        let r = runcell::check();
        assert_consistent(&r);
        assert_ne!(r.euid, 0);
        println!("CHECK-UNPRIV-OK uid={}", r.euid);
        return;
    }
    let text = rerun(
        "check_agrees_with_the_host_unprivileged",
        "RUNCELL_CHECK_UNPRIV",
        &[],
        true,
    );
    assert!(text.contains("CHECK-UNPRIV-OK uid=65534"), "{text}");
}

/// `user.max_user_namespaces` lowered to 0 inside the test's own user namespace (util-linux
/// `unshare` creates it and maps the caller to root there, which may then lower the limit
/// for everything below): the report must say user namespaces are disabled, name the sysctl
/// and its fix, and say the default profile cannot run. Run as root and as 65534.
#[test]
fn check_explains_disabled_user_namespaces() {
    if std::env::var_os("RUNCELL_CHECK_NOUSERNS").is_some() {
        std::fs::write("/proc/sys/user/max_user_namespaces", "0\n")
            .expect("lower user.max_user_namespaces in our own user namespace");
        let r = runcell::check();
        assert!(!r.user_namespace.ok, "{r}");
        assert!(!r.default_profile_runs(), "{r}");
        let p = r
            .problems
            .iter()
            .find(|p| p.blocking)
            .unwrap_or_else(|| panic!("no blocking problem: {r}"));
        assert!(p.what.contains("user.max_user_namespaces = 0"), "{p:?}");
        assert!(
            p.fix.contains("sysctl -w user.max_user_namespaces="),
            "{p:?}"
        );
        let text = r.to_string();
        assert!(
            text.contains("FAILED: the default profile cannot run here."),
            "{text}"
        );
        println!("CHECK-NOUSERNS-OK");
        return;
    }
    let wrapper = ["unshare", "--user", "--map-root-user", "--"];
    for unprivileged in [false, true] {
        if unprivileged && !is_root() {
            continue;
        }
        let text = rerun(
            "check_explains_disabled_user_namespaces",
            "RUNCELL_CHECK_NOUSERNS",
            &wrapper,
            unprivileged,
        );
        assert!(text.contains("CHECK-NOUSERNS-OK"), "{text}");
    }
}
