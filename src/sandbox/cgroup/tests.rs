//! Tests of the cgroup pool: v2 against a fake cgroupfs in a temporary directory, v1 against
//! the host's real hierarchies (root only).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::*;

/// A fake cgroupfs (v2) over a plain directory: mkdir creates the interface files of the
/// controllers the parent enables, rmdir removes them and refuses a populated cgroup, writes
/// to `cgroup.subtree_control` are validated, a pid written to `cgroup.procs` is added to it
/// (and `cgroup.events` says populated), `cgroup.kill` empties it.
struct FakeFs;

static FAKE: FakeFs = FakeFs;

fn words(p: &Path) -> io::Result<Vec<String>> {
    Ok(fs::read_to_string(p)?
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl CgFs for FakeFs {
    fn mkdir(&self, p: &Path) -> io::Result<()> {
        let parent = p.parent().ok_or_else(|| errno(libc::EINVAL))?;
        let controllers = words(&parent.join("cgroup.subtree_control"))?;
        fs::create_dir(p)?;
        let has = |c: &str| controllers.iter().any(|x| x == c);
        let mut files = vec![
            ("cgroup.procs", String::new()),
            ("cgroup.controllers", controllers.join(" ")),
            ("cgroup.subtree_control", String::new()),
            ("cgroup.kill", String::new()),
            ("cgroup.events", "populated 0\nfrozen 0\n".to_string()),
        ];
        if has("memory") {
            files.extend([
                ("memory.max", "max\n".to_string()),
                ("memory.swap.max", "max\n".to_string()),
                ("memory.peak", "0\n".to_string()),
                (
                    "memory.events",
                    "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n".to_string(),
                ),
                ("memory.oom.group", "0\n".to_string()),
            ]);
        }
        if has("pids") {
            files.push(("pids.max", "max\n".to_string()));
        }
        if has("cpu") {
            files.push(("cpu.max", "max 100000\n".to_string()));
        }
        for (f, v) in files {
            fs::write(p.join(f), v)?;
        }
        Ok(())
    }

    fn rmdir(&self, p: &Path) -> io::Result<()> {
        let entries: Vec<_> = fs::read_dir(p)?.collect::<io::Result<_>>()?;
        if entries.iter().any(|e| e.path().is_dir()) || !no_procs(p) {
            return Err(errno(libc::EBUSY));
        }
        for e in entries {
            fs::remove_file(e.path())?;
        }
        fs::remove_dir(p)
    }

    fn write(&self, p: &Path, data: &str) -> io::Result<()> {
        let dir = p.parent().ok_or_else(|| errno(libc::EINVAL))?;
        match p.file_name().and_then(|n| n.to_str()) {
            Some("cgroup.subtree_control") => {
                if !no_procs(dir) {
                    return Err(errno(libc::EBUSY));
                }
                let avail = words(&dir.join("cgroup.controllers"))?;
                let mut cur = words(p)?;
                for tok in data.split_whitespace() {
                    if let Some(c) = tok.strip_prefix('+') {
                        if !avail.iter().any(|a| a == c) {
                            return Err(errno(libc::ENOENT));
                        }
                        if !cur.iter().any(|x| x == c) {
                            cur.push(c.to_string());
                        }
                    } else if let Some(c) = tok.strip_prefix('-') {
                        cur.retain(|x| x != c);
                    } else {
                        return Err(errno(libc::EINVAL));
                    }
                }
                fs::write(p, cur.join(" "))
            }
            Some("cgroup.kill") => {
                fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(p)?
                    .write_all(data.as_bytes())?;
                set_procs(dir, "");
                Ok(())
            }
            Some("cgroup.procs") => {
                let old = fs::read_to_string(p)?;
                set_procs(dir, &format!("{old}{}\n", data.trim()));
                Ok(())
            }
            _ => fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(p)?
                .write_all(data.as_bytes()),
        }
    }

    /// A `memory.peak` reset leaves the file alone, except that a file saying `old-kernel`
    /// refuses it (a kernel before 6.12); other writes go to the file's path.
    fn write_fd(&self, f: &File, data: &str) -> io::Result<()> {
        let mut buf = [0u8; 64];
        let n = f.read_at(&mut buf, 0)?;
        if buf[..n].starts_with(b"old-kernel") {
            return Err(errno(libc::EINVAL));
        }
        if data == "reset\n" {
            return Ok(());
        }
        let path = fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
        self.write(&path, data)
    }
}

/// Set the fake `cgroup.procs` of `dir` and the matching `populated` of `cgroup.events`.
fn set_procs(dir: &Path, procs: &str) {
    fs::write(dir.join("cgroup.procs"), procs).unwrap();
    let populated = u8::from(!procs.trim().is_empty());
    fs::write(
        dir.join("cgroup.events"),
        format!("populated {populated}\nfrozen 0\n"),
    )
    .unwrap();
}

/// A fake delegated base cgroup whose `cgroup.subtree_control` is `subtree`.
fn fake_base(subtree: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("cgroup.controllers"), "cpu io memory pids").unwrap();
    fs::write(t.path().join("cgroup.subtree_control"), subtree).unwrap();
    fs::write(t.path().join("cgroup.procs"), "").unwrap();
    t
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn cat(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
        .trim()
        .to_string()
}

const MIB: u64 = 1 << 20;

fn settings(cpu: Option<u32>) -> Settings {
    Settings {
        memory: 64 * MIB,
        pids: 17,
        cpu_quota: cpu,
    }
}

fn fake_pool(base: &Path, cpu: bool, s: &Settings) -> Pool {
    let d = Detected::V2 {
        base: base.to_path_buf(),
        cpu,
    };
    Pool::with_fs(&d, s, &FAKE).unwrap()
}

// ---- detection ----

#[test]
fn detect_v2_own_cgroup() {
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("cg root");
    let svc = mnt.join("svc");
    fs::create_dir_all(&svc).unwrap();
    fs::write(svc.join("cgroup.subtree_control"), "cpu memory pids\n").unwrap();
    let mi = format!(
        "30 23 0:26 / {} rw,nosuid,nodev - cgroup2 cgroup2 rw,nsdelegate\n",
        t.path().display().to_string() + "/cg\\040root"
    );
    let d = detect_from("0::/svc\n", &mi, None).unwrap();
    assert_eq!(
        d,
        Detected::V2 {
            base: svc,
            cpu: true
        }
    );
    assert_eq!(d.mechanism(), "cgroup_v2");
}

#[test]
fn detect_v2_missing_controllers() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("cgroup.subtree_control"), "cpu\n").unwrap();
    let mi = format!(
        "30 23 0:26 / {} rw - cgroup2 cgroup2 rw\n",
        t.path().display()
    );
    let r = detect_from("0::/\n", &mi, None).unwrap_err();
    assert!(r.contains("memory, pids not enabled"), "{r}");
    assert!(r.contains("cgroup v1: no memory hierarchy"), "{r}");
}

#[test]
fn detect_hybrid_v1() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let mem = root.join("memory/process_api/abc");
    for d in [
        &mem,
        &root.join("pids"),
        &root.join("cpu"),
        &root.join("cpuacct"),
    ] {
        fs::create_dir_all(d).unwrap();
    }
    fs::create_dir_all(root.join("unified")).unwrap();
    fs::write(root.join("unified/cgroup.subtree_control"), "").unwrap();
    fs::write(
        mem.join("memory.memsw.limit_in_bytes"),
        "9223372036854771712",
    )
    .unwrap();
    let r = root.display();
    let cg = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    let mi = format!(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
         33 31 0:30 / {r}/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n\
         32 31 0:29 / {r}/cpu rw,relatime - cgroup cgroup rw,cpu\n\
         35 31 0:32 / {r}/memory rw,relatime - cgroup cgroup rw,memory\n\
         39 31 0:36 / {r}/pids rw,relatime - cgroup cgroup rw,pids\n\
         41 31 0:38 / {r}/unified rw,relatime - cgroup2 cgroup2 rw\n"
    );
    let d = detect_from(cg, &mi, None).unwrap();
    assert_eq!(
        d,
        Detected::V1 {
            memory: mem.clone(),
            pids: root.join("pids"),
            cpu: Some(root.join("cpu")),
            memsw: true,
        }
    );
    assert_eq!(d.mechanism(), "cgroup_v1");

    // A hierarchy mounted from a sub-cgroup (mount root not "/"), no cpu, no memsw.
    fs::remove_file(mem.join("memory.memsw.limit_in_bytes")).unwrap();
    let mi2 = format!(
        "35 31 0:32 /process_api {r}/memory/process_api rw - cgroup cgroup rw,memory\n\
         39 31 0:36 / {r}/pids rw - cgroup cgroup rw,pids\n"
    );
    let d = detect_from(cg, &mi2, None).unwrap();
    assert_eq!(
        d,
        Detected::V1 {
            memory: mem,
            pids: root.join("pids"),
            cpu: None,
            memsw: false,
        }
    );
    assert!(!d.cpu());
}

#[test]
fn detect_nothing() {
    let r = detect_from("", "", None).unwrap_err();
    assert!(r.starts_with("no usable cgroup hierarchy"), "{r}");
    assert!(r.contains("not in a cgroup v2 hierarchy"), "{r}");
    // A v1 line whose hierarchy is not mounted.
    let r = detect_from("4:memory:/x\n8:pids:/\n", "", None).unwrap_err();
    assert!(
        r.contains("no mount of the memory hierarchy shows /x"),
        "{r}"
    );
}

#[test]
fn detect_explicit_base() {
    let base = fake_base("memory pids");
    let d = detect_from("4:memory:/\n0::/\n", "", Some(base.path())).unwrap();
    assert_eq!(
        d,
        Detected::V2 {
            base: base.path().to_path_buf(),
            cpu: false,
        }
    );
    assert!(detect_from("", "", Some(Path::new("rel/dir"))).is_err());
    let r = detect_from("", "", Some(&base.path().join("missing"))).unwrap_err();
    assert!(r.contains("cannot read"), "{r}");
}

#[test]
fn detect_real_host_does_not_fail_oddly() {
    match detect(None) {
        Ok(d) => eprintln!("host cgroups: {d:?}"),
        Err(r) => eprintln!("host cgroups unavailable: {r}"),
    }
}

#[test]
fn unavailable_classifies_permission_errors() {
    let e = |what, errno| Error::Cgroup {
        what,
        path: PathBuf::from("/x"),
        source: io::Error::from_raw_os_error(errno),
    };
    assert!(unavailable(&e("create", libc::EACCES)));
    assert!(unavailable(&e("create", libc::EROFS)));
    assert!(!unavailable(&e("create", libc::ENOSPC)));
    assert!(!unavailable(&e("join", libc::EACCES)));
}

#[test]
fn cpu_quota_conversion() {
    assert_eq!(cpu_quota_us(1500), 150_000);
    assert_eq!(cpu_quota_us(1000), 100_000);
    assert_eq!(cpu_quota_us(1), 1000);
}

// ---- v2 pool on the fake cgroupfs ----

#[test]
fn v2_parent_and_leaf_values() {
    let base = fake_base("cpu memory pids");
    let before = names(base.path());
    let pool = fake_pool(base.path(), true, &settings(Some(1500)));
    assert_eq!(pool.mechanism(), "cgroup_v2");
    let dirs = pool.dirs();
    assert_eq!(dirs.len(), 1);
    let parent = dirs[0].clone();
    assert_eq!(parent.parent(), Some(base.path()));
    let name = parent.file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(
        parse_parent_name(&name).map(|(pid, _)| pid),
        Some(std::process::id()),
        "{name}"
    );
    assert_eq!(
        cat(parent.join("cgroup.subtree_control")),
        "memory pids cpu"
    );

    let lease = pool.acquire().unwrap();
    let leaf = parent.join("0");
    assert_eq!(lease.dirs(), std::slice::from_ref(&leaf));
    assert_eq!(cat(leaf.join("memory.max")), (64 * MIB).to_string());
    assert_eq!(cat(leaf.join("memory.swap.max")), "0");
    assert_eq!(cat(leaf.join("memory.oom.group")), "1");
    assert_eq!(cat(leaf.join("pids.max")), "17");
    assert_eq!(cat(leaf.join("cpu.max")), "150000 100000");
    assert_eq!(pool.dirs(), vec![leaf.clone(), parent.clone()]);

    lease.join(4242).unwrap();
    assert_eq!(cat(leaf.join("cgroup.procs")), "4242");
    assert!(lease.kill());
    assert_eq!(cat(leaf.join("cgroup.kill")), "1");
    assert_eq!(cat(leaf.join("cgroup.procs")), "");
    drop(lease);
    drop(pool);
    assert_eq!(names(base.path()), before);
}

#[test]
fn v2_without_cpu_quota_writes_no_cpu() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let parent = &pool.dirs()[1];
    assert_eq!(cat(parent.join("cgroup.subtree_control")), "memory pids");
    assert!(!lease.dirs()[0].join("cpu.max").exists());
    assert_eq!(
        cat(lease.dirs()[0].join("memory.max")),
        (64 * MIB).to_string()
    );
}

#[test]
fn v2_cpu_quota_without_cpu_controller() {
    let base = fake_base("memory pids");
    let before = names(base.path());
    // Detected says cpu is missing: refused before touching anything.
    let d = Detected::V2 {
        base: base.path().to_path_buf(),
        cpu: false,
    };
    let e = Pool::with_fs(&d, &settings(Some(500)), &FAKE).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    // Detected wrongly claims cpu: enabling it fails and the parent is removed again.
    let d = Detected::V2 {
        base: base.path().to_path_buf(),
        cpu: true,
    };
    let e = Pool::with_fs(&d, &settings(Some(500)), &FAKE).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Cgroup {
                what: "write cgroup.subtree_control",
                ..
            }
        ),
        "{e}"
    );
    assert!(!unavailable(&e));
    assert_eq!(names(base.path()), before);
}

#[test]
fn v2_reuse_sequential_and_growth_when_concurrent() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    for _ in 0..20 {
        let l = pool.acquire().unwrap();
        l.join(1).unwrap();
        l.kill();
        drop(l);
    }
    assert_eq!(pool.dirs().len(), 2, "{:?}", pool.dirs());

    let leases: Vec<Lease> = (0..4).map(|_| pool.acquire().unwrap()).collect();
    assert_eq!(pool.dirs().len(), 5);
    drop(leases);
    let leases: Vec<Lease> = (0..4).map(|_| pool.acquire().unwrap()).collect();
    assert_eq!(pool.dirs().len(), 5);
    // Clones share the leaves.
    let clone = pool.clone();
    drop(leases);
    drop(pool);
    let l = clone.acquire().unwrap();
    assert_eq!(clone.dirs().len(), 5);
    drop(l);
    drop(clone);
    assert!(
        names(base.path())
            .iter()
            .all(|n| !n.starts_with("runcell-"))
    );
}

#[test]
fn v2_oom_delta_and_peak() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let leaf = lease.dirs()[0].clone();
    assert_eq!(lease.usage().oom_kills, 0);
    fs::write(
        leaf.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n",
    )
    .unwrap();
    fs::write(leaf.join("memory.peak"), "12345678\n").unwrap();
    assert_eq!(
        lease.usage(),
        Usage {
            peak_memory: Some(12_345_678),
            oom_kills: 2
        }
    );
    drop(lease);
    let lease = pool.acquire().unwrap();
    assert_eq!(
        lease.dirs(),
        std::slice::from_ref(&leaf),
        "the leaf is reused"
    );
    assert_eq!(lease.usage().oom_kills, 0, "the baseline moved");
    fs::write(leaf.join("memory.events"), "oom 5\noom_kill 5\n").unwrap();
    assert_eq!(lease.usage().oom_kills, 3);
}

#[test]
fn v2_busy_leaf_not_reused() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let leaf0 = lease.dirs()[0].clone();
    lease.join(999).unwrap();
    drop(lease);
    // Still populated: neither reused nor removable yet.
    assert!(leaf0.exists());
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.dirs()[0], leaf0);
    drop(lease);
    assert_eq!(pool.dirs().len(), 3);
    // Once empty, the next growth of the pool removes it.
    set_procs(&leaf0, "");
    let a = pool.acquire().unwrap();
    let b = pool.acquire().unwrap();
    assert!(!leaf0.exists());
    assert_eq!(pool.dirs().len(), 3);
    drop((a, b));
    assert_eq!(pool.dirs().len(), 3);
}

#[test]
fn v2_drop_kills_populated_leaves_and_removes_everything() {
    let base = fake_base("memory pids");
    let before = names(base.path());
    let pool = fake_pool(base.path(), false, &settings(None));
    let a = pool.acquire().unwrap();
    let b = pool.acquire().unwrap();
    b.join(31337).unwrap();
    drop(b); // busy: set aside
    drop(pool); // the lease `a` keeps the pool alive
    assert!(a.dirs()[0].exists());
    drop(a);
    assert_eq!(names(base.path()), before);
}

#[test]
fn v2_reset_failure_means_fresh_leaf() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let leaf0 = lease.dirs()[0].clone();
    fs::write(leaf0.join("memory.peak"), "old-kernel").unwrap();
    drop(lease);
    assert!(
        !leaf0.exists(),
        "a leaf whose peak cannot be reset is removed"
    );
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.dirs()[0], leaf0);
    assert_eq!(pool.dirs().len(), 2);
}

#[test]
fn v2_pool_is_send_sync_and_threads_share_it() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pool>();
    assert_send_sync::<Lease>();
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let p = pool.clone();
            s.spawn(move || {
                for _ in 0..50 {
                    let l = p.acquire().unwrap();
                    assert_eq!(l.usage().oom_kills, 0);
                }
            });
        }
    });
    assert!(pool.dirs().len() <= 5);
}

#[test]
fn parent_names() {
    assert_eq!(
        parse_parent_name("runcell-12-3-4026531836"),
        Some((12, 4026531836))
    );
    assert_eq!(parse_parent_name("runcell-12-3"), None);
    assert_eq!(parse_parent_name("runcell-12-3-4-5"), None);
    assert_eq!(parse_parent_name("other-12-3-4"), None);
}

/// A pid above the kernel's PID_MAX_LIMIT: never alive.
const DEAD_PID: u32 = 9_999_999;

#[test]
fn v2_sweeps_leftovers_of_dead_processes_only() {
    let base = fake_base("memory pids");
    let ns = pid_ns();
    assert_ne!(ns, 0);
    let mk = |name: &str, leaves: &[&str]| {
        let p = base.path().join(name);
        FAKE.mkdir(&p).unwrap();
        FAKE.write(&p.join("cgroup.subtree_control"), "+memory +pids")
            .unwrap();
        for l in leaves {
            FAKE.mkdir(&p.join(l)).unwrap();
        }
        p
    };
    let dead = mk(&format!("runcell-{DEAD_PID}-0-{ns}"), &["0", "1"]);
    let busy = mk(&format!("runcell-{DEAD_PID}-1-{ns}"), &["0"]);
    set_procs(&busy.join("0"), "4242\n");
    let other_ns = mk(&format!("runcell-{DEAD_PID}-2-{}", ns + 1), &["0"]);
    let alive = mk(&format!("runcell-1-0-{ns}"), &["0"]);
    let unrelated = mk("runcell-other", &[]);
    let pool = fake_pool(base.path(), false, &settings(None));
    assert!(!dead.exists());
    assert!(busy.join("0").exists(), "a populated leftover stays");
    assert!(other_ns.exists() && alive.exists() && unrelated.exists());
    drop(pool);
}

// ---- v1 on the real host (root) ----

/// The host's v1 layout, or `None` (with a note) when these tests cannot run.
fn real_v1() -> Option<Detected> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: cgroup v1 tests need root");
        return None;
    }
    match detect(None) {
        Ok(d @ Detected::V1 { .. }) => Some(d),
        Ok(d) => {
            eprintln!("skipped: host uses {}", d.mechanism());
            None
        }
        Err(r) => {
            eprintln!("skipped: {r}");
            None
        }
    }
}

#[test]
fn v1_real_join_limits_teardown() {
    let Some(d) = real_v1() else { return };
    let Detected::V1 { memsw, .. } = d else {
        return;
    };
    let s = Settings {
        memory: 64 * MIB,
        pids: 32,
        cpu_quota: d.cpu().then_some(500),
    };
    let pool = Pool::new(&d, &s).unwrap();
    assert_eq!(pool.mechanism(), "cgroup_v1");
    let lease = pool.acquire().unwrap();
    let dirs = lease.dirs().to_vec();
    assert_eq!(dirs.len(), if d.cpu() { 3 } else { 2 });
    assert_eq!(
        cat(dirs[0].join("memory.limit_in_bytes")),
        (64 * MIB).to_string()
    );
    if memsw {
        assert_eq!(
            cat(dirs[0].join("memory.memsw.limit_in_bytes")),
            (64 * MIB).to_string()
        );
    }
    assert_eq!(cat(dirs[1].join("pids.max")), "32");
    if let Some(cpu) = dirs.get(2) {
        assert_eq!(cat(cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(cat(cpu.join("cpu.cfs_period_us")), "100000");
    }

    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    lease.join(pid).unwrap();
    let own = cat(format!("/proc/{pid}/cgroup"));
    let parent = dirs[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let suffix = format!("/{parent}/0");
    for ctl in ["memory", "pids"] {
        let line = own
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|x| x == ctl))
            })
            .unwrap();
        assert!(line.ends_with(&suffix), "{line} should end with {suffix}");
    }
    assert_eq!(cat(dirs[0].join("cgroup.procs")), pid.to_string());
    let leaf = lease.leaf.as_ref().unwrap();
    assert!(
        !pool.inner.is_empty(leaf),
        "reads through the kept descriptors are fresh"
    );
    assert!(!lease.kill(), "v1 has no cgroup.kill");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pool.inner.is_empty(leaf));
    drop(lease);
    // Reused: the same leaf comes back.
    let lease = pool.acquire().unwrap();
    assert_eq!(lease.dirs(), dirs.as_slice());
    drop(lease);
    let all = pool.dirs();
    assert_eq!(all.len(), dirs.len() * 2);
    drop(pool);
    for d in all {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn v1_real_oom_and_peak() {
    let Some(d) = real_v1() else { return };
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        eprintln!("skipped: no /usr/bin/python3");
        return;
    }
    let s = Settings {
        memory: 64 * MIB,
        pids: 16,
        cpu_quota: None,
    };
    let pool = Pool::new(&d, &s).unwrap();
    let lease = pool.acquire().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read x; exec /usr/bin/python3 -c 'b = bytearray(512 << 20)'")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lease.join(child.id() as libc::pid_t).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    let u = lease.usage();
    eprintln!("v1 OOM run: {u:?}");
    assert!(u.oom_kills >= 1, "{u:?}");
    let peak = u.peak_memory.unwrap();
    assert!(
        (48 * MIB..=64 * MIB).contains(&peak),
        "peak {peak} should be close to the 64 MiB limit"
    );
    let dirs = lease.dirs().to_vec();
    drop(lease);
    let lease = pool.acquire().unwrap();
    assert_eq!(
        lease.dirs(),
        dirs.as_slice(),
        "the leaf is reused after an OOM"
    );
    let u = lease.usage();
    eprintln!("after reset: {u:?}");
    assert_eq!(u.oom_kills, 0);
    assert!(u.peak_memory.unwrap() < 48 * MIB, "{u:?}");
}

fn percentiles(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    format!(
        "median {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}

#[test]
fn v1_real_pool_reuse_and_timing() {
    let Some(d) = real_v1() else { return };
    let s = Settings {
        memory: 256 * MIB,
        pids: 65,
        cpu_quota: None,
    };
    let pool = Pool::new(&d, &s).unwrap();
    for _ in 0..100 {
        drop(pool.acquire().unwrap());
    }
    assert_eq!(pool.dirs().len(), 4, "{:?}", pool.dirs());
    let held: Vec<Lease> = (0..3).map(|_| pool.acquire().unwrap()).collect();
    assert_eq!(pool.dirs().len(), 8);
    drop(held);

    let n = 300;
    let pooled: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            drop(pool.acquire().unwrap());
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let inner = &pool.inner;
    let fresh: Vec<f64> = (0..n)
        .map(|i| {
            let leaf_n = 10_000 + i;
            inner.lock().created.insert(leaf_n);
            let t = Instant::now();
            let leaf = inner.create_leaf(leaf_n).unwrap();
            drop(leaf);
            assert!(inner.remove_leaf_once(leaf_n));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    let lease = pool.acquire().unwrap();
    let join: Vec<f64> = (0..30)
        .map(|_| {
            let mut c = Command::new("sleep").arg("10").spawn().unwrap();
            let t = Instant::now();
            lease.join(c.id() as libc::pid_t).unwrap();
            let us = t.elapsed().as_secs_f64() * 1e6;
            c.kill().unwrap();
            c.wait().unwrap();
            us
        })
        .collect();
    drop(lease);
    eprintln!("v1 join (memory + pids):   {}", percentiles(join));
    eprintln!("v1 pooled acquire+release: {}", percentiles(pooled));
    eprintln!("v1 create+remove leaf:     {}", percentiles(fresh));
    let all = pool.dirs();
    drop(pool);
    assert!(all.iter().all(|d| !d.exists()));
}

#[test]
fn v1_real_sweep_of_a_dead_pool() {
    let Some(d) = real_v1() else { return };
    let Detected::V1 { memory, pids, .. } = &d else {
        return;
    };
    let name = format!("runcell-{DEAD_PID}-0-{}", pid_ns());
    let stale: Vec<PathBuf> = [memory, pids]
        .iter()
        .flat_map(|h| [h.join(&name), h.join(&name).join("0")])
        .collect();
    for dir in &stale {
        fs::create_dir(dir).unwrap();
    }
    let s = Settings {
        memory: 64 * MIB,
        pids: 8,
        cpu_quota: None,
    };
    let pool = Pool::new(&d, &s).unwrap();
    for dir in &stale {
        assert!(!dir.exists(), "{} not swept", dir.display());
    }
    drop(pool);
}
