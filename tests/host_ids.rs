//! Host ids: a root host gives each concurrent run a host uid (and the gid of the same number)
//! of its own, leased from a range, unique across runcell processes; the run's user namespace
//! belongs to that uid. An unprivileged host maps every run to itself.

mod common;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::*;
use runcell::{Child, Command, Error, HostIdRange, Sandbox, SandboxBuilder};

/// The tests of this file count this process's descriptors and the host's sandboxes: one at a
/// time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn sandbox(b: SandboxBuilder) -> Sandbox {
    b.wall_time(Duration::from_secs(120)).build().unwrap()
}

/// Start a run that prints its uid map and then waits for a line on stdin.
fn hold(sb: &Sandbox) -> runcell::Result<(Child, String)> {
    let mut child = sb.spawn(&Command::new("sh").args(["-c", "cat /proc/self/uid_map; read x"]))?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    Ok((child, line.split_whitespace().collect::<Vec<_>>().join(" ")))
}

fn release(mut child: Child) -> runcell::Outcome {
    let _ = child.stdin.take().unwrap().write_all(b"\n");
    child.wait().unwrap()
}

/// The host uid that owns the user namespace of host pid `pid` (NS_GET_OWNER_UID).
fn namespace_owner(pid: u32) -> u32 {
    let f = std::fs::File::open(format!("/proc/{pid}/ns/user")).unwrap();
    let mut uid: libc::uid_t = u32::MAX;
    const NS_GET_OWNER_UID: libc::c_ulong = 0xb704;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_OWNER_UID, &mut uid) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    uid
}

/// This process's child processes (every sandbox's init is one; other processes on the
/// machine start sandboxes of their own at any time).
fn children() -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out.sort_unstable();
    out
}

#[test]
fn concurrent_runs_get_their_own_host_ids() {
    let _one = one_at_a_time();
    let sb = sandbox(Sandbox::builder());
    let held: Vec<_> = (0..4).map(|_| hold(&sb).unwrap()).collect();
    let mut uids = Vec::new();
    for (child, map) in &held {
        let host: u32 = map.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(map, &format!("1000 {host} 1"));
        if is_root() {
            // The namespace is owned by the run's uid, not by host root: what the kernel
            // counts per user for it is charged there.
            assert_eq!(namespace_owner(child.pid()), host);
        }
        uids.push(host);
    }
    let mut distinct = uids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if is_root() {
        let range = HostIdRange::DEFAULT;
        assert_eq!(distinct.len(), uids.len(), "shared host uids: {uids:?}");
        assert!(
            uids.iter()
                .all(|u| (range.first()..=range.last()).contains(u)),
            "{uids:?}"
        );
    } else {
        // SAFETY: plain getter.
        assert_eq!(distinct, [unsafe { libc::geteuid() }]);
    }
    for ((child, _), uid) in held.into_iter().zip(uids) {
        let o = release(child);
        assert_eq!((o.enforced.host_uid, o.enforced.host_gid), (uid, uid));
    }
}

#[test]
fn fixed_host_ids_are_shared_by_every_run() {
    let _one = one_at_a_time();
    let sb = sandbox(Sandbox::builder().host_ids(97500, 97501));
    let a = hold(&sb).unwrap();
    let b = hold(&sb).unwrap();
    if is_root() {
        assert_eq!(a.1, "1000 97500 1");
        assert_eq!(b.1, "1000 97500 1");
        // Fixed ids may be an id host services run as: they never own a namespace (root
        // keeps owning it), or every process of that uid would hold every capability over
        // every run's namespaces.
        assert_eq!(namespace_owner(a.0.pid()), 0);
    }
    let o = release(a.0);
    release(b.0);
    if is_root() {
        assert_eq!((o.enforced.host_uid, o.enforced.host_gid), (97500, 97501));
        assert_eq!(o.enforced.host_id_range, None);
    }
}

#[test]
fn an_exhausted_range_is_a_clear_error_that_leaves_nothing_behind() {
    if !is_root() {
        return;
    }
    let _one = one_at_a_time();
    let range = HostIdRange::new(97000, 2).unwrap();
    let sb = sandbox(Sandbox::builder().host_id_range(range));
    let a = hold(&sb).unwrap();
    let b = hold(&sb).unwrap();
    assert_ne!(a.1, b.1);
    let fds = fd_count();
    let before = children();
    let err = hold(&sb).map(|_| ()).unwrap_err();
    assert!(
        matches!(err, Error::HostIdsExhausted { range: r } if r == range),
        "{err}"
    );
    assert!(err.to_string().contains("97000-97001"), "{err}");
    // Nothing started, nothing held. (Fewer is another test's run finishing on its
    // sandbox's reaper thread meanwhile: it closes descriptors and reaps its init.)
    assert!(fd_count() <= fds, "{} > {fds}", fd_count());
    assert!(
        children().iter().all(|c| before.contains(c)),
        "{:?} not within {before:?}",
        children()
    );
    // The same with a lease asked for explicitly.
    assert!(matches!(
        sb.lease_host_ids(),
        Err(Error::HostIdsExhausted { .. })
    ));
    // A run that ends gives its uid back.
    let freed = a.1.clone();
    release(a.0);
    let c = hold(&sb).unwrap();
    assert_eq!(c.1, freed);
    release(b.0);
    release(c.0);
}

#[test]
fn a_lease_taken_beforehand_is_the_run_s() {
    let _one = one_at_a_time();
    let sb = sandbox(Sandbox::builder());
    let ids = sb.lease_host_ids().unwrap();
    let o = sb
        .run(
            &Command::new("cat").arg("/proc/self/uid_map").host_ids(&ids),
            b"",
        )
        .unwrap();
    let map = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(map, format!("1000 {} 1", ids.uid()));
    assert_eq!(o.enforced.host_uid, ids.uid());
    assert_eq!(ids.is_leased(), is_root());
    if is_root() {
        // Still leased while held: another run gets another uid.
        let other = sb.run(&Command::new("true"), b"").unwrap();
        assert_ne!(other.enforced.host_uid, ids.uid());
    }
}

/// Leases are unique across processes: another runcell process (a copy of this test binary)
/// holds a run in a two-id range; this process gets the other id, then nothing; when that
/// process is killed its lease dies with it.
#[test]
fn leases_are_unique_across_processes_and_die_with_them() {
    const RANGE: &str = "97200-97201";
    if std::env::var_os("RUNCELL_LEASE_HOLDER").is_some() {
        let sb = sandbox(Sandbox::builder().host_id_range(HostIdRange::parse(RANGE).unwrap()));
        let (child, map) = hold(&sb).unwrap();
        println!("HOLDING {map}");
        // Until killed.
        std::thread::sleep(Duration::from_secs(600));
        drop(child);
        return;
    }
    if !is_root() {
        return;
    }
    let _one = one_at_a_time();
    let mut holder = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leases_are_unique_across_processes_and_die_with_them",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_LEASE_HOLDER", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut line = String::new();
    // The harness prints `test NAME ... ` before it on the same line.
    while !line.contains("HOLDING ") {
        line.clear();
        assert_ne!(out.read_line(&mut line).unwrap(), 0, "holder ended");
    }
    let held = line.split("HOLDING ").nth(1).unwrap();
    let theirs: u32 = held.split_whitespace().nth(1).unwrap().parse().unwrap();
    let sb = sandbox(Sandbox::builder().host_id_range(HostIdRange::parse(RANGE).unwrap()));
    let (mine, map) = hold(&sb).unwrap();
    let ours: u32 = map.split(' ').nth(1).unwrap().parse().unwrap();
    assert_ne!(ours, theirs);
    assert!(matches!(
        sb.lease_host_ids(),
        Err(Error::HostIdsExhausted { .. })
    ));
    // The holder dies without cleaning up: its lease goes with it.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let ids = {
        let mut got = None;
        wait_until("the dead process's lease to be released", || {
            got = sb.lease_host_ids().ok();
            got.is_some()
        });
        got.unwrap()
    };
    assert_eq!(ids.uid(), theirs);
    release(mine);
}

#[test]
fn ranges_are_checked() {
    let _one = one_at_a_time();
    assert!(HostIdRange::new(0, 10).is_err());
    assert!(HostIdRange::new(65530, 10).is_err(), "contains nobody");
    assert!(HostIdRange::new(u32::MAX - 1, 2).is_err());
    assert!(HostIdRange::new(5000, 0).is_err());
    assert!(HostIdRange::parse("9-1").is_err());
    assert!(HostIdRange::parse("abc").is_err());
    let r = HostIdRange::parse("90000-90009").unwrap();
    assert_eq!((r.first(), r.last(), r.count()), (90000, 90009, 10));
    assert_eq!(r.to_string(), "90000-90009");
    // In profiles: a range, or fixed ids, not both.
    let p = runcell::Profile::from_toml_str("host_id_range = \"90000-90009\"\n", "t").unwrap();
    assert_eq!(p.host_ids, runcell::HostIds::Range(r));
    let p = runcell::Profile::from_toml_str("host_uid = 4000\n", "t").unwrap();
    assert_eq!(
        p.host_ids,
        runcell::HostIds::Fixed {
            uid: 4000,
            gid: 4000
        }
    );
    let e = runcell::Profile::from_toml_str("host_id_range = \"1-5\"\nhost_uid = 7\n", "t")
        .unwrap_err();
    assert!(e.to_string().contains("host_id_range"), "{e}");
    let e = runcell::Profile::from_toml_str("host_id_range = \"0-5\"\n", "t").unwrap_err();
    assert!(e.to_string().contains("root"), "{e}");
    assert!(Sandbox::builder().host_ids(0, 5).build().is_err());
}

/// The same tests from an unprivileged host (a copy of this test binary as uid/gid 65534):
/// every run maps to the host user itself, a lease is the host user's own ids, and
/// `hand_over` changes nothing.
#[test]
fn an_unprivileged_host_maps_every_run_to_itself() {
    if std::env::var_os("RUNCELL_IDS_UNPRIV").is_some() {
        // SAFETY: a single-threaded child test process (one test, --test-threads=1).
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
                assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
                assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
            }
            libc::prctl(libc::PR_SET_DUMPABLE, 1);
        }
        let sb = sandbox(Sandbox::builder());
        let (a, map_a) = hold(&sb).unwrap();
        let (b, map_b) = hold(&sb).unwrap();
        assert_eq!(map_a, "1000 65534 1");
        assert_eq!(map_b, "1000 65534 1");
        let ids = sb.lease_host_ids().unwrap();
        assert_eq!(
            (ids.uid(), ids.gid(), ids.is_leased()),
            (65534, 65534, false)
        );
        let dir = tempfile::tempdir().unwrap();
        runcell::hand_over(dir.path(), &ids).unwrap();
        let o = release(a);
        release(b);
        assert_eq!(
            (o.enforced.host_uid, o.enforced.host_id_range),
            (65534, None)
        );
        println!("IDS-UNPRIV-OK");
        return;
    }
    if !is_root() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_unprivileged_host_maps_every_run_to_itself",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_IDS_UNPRIV", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("IDS-UNPRIV-OK"),
        "{text}"
    );
}
