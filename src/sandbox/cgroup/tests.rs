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

/// A fake cgroupfs over a plain directory. v2: mkdir creates the interface files of the
/// controllers the parent enables, rmdir removes them and refuses a populated cgroup, writes
/// to `cgroup.subtree_control` are validated, a pid written to `cgroup.procs` is added to it
/// (and `cgroup.events` says populated), `cgroup.kill` empties it. A directory with the
/// marker `fake.v1` is a v1 hierarchy instead (see [`MARKERS`]): mkdir creates the files of
/// its controllers, `pids.current` counts the joined pids, writing 0 to
/// `memory.max_usage_in_bytes` copies `memory.usage_in_bytes`, `memory.oom_control` takes
/// `oom_kill_disable` from the parent and sets it on a write.
struct FakeFs;

/// Marker files of the fake, copied into every directory it creates: `fake.v1` makes a v1
/// hierarchy and lists its controllers (`memory`, `memory memsw`, `pids` or `cpu`);
/// `fake.noswap` leaves `memory.swap.max` out (v2 without swap accounting); `fake.reject`
/// lists interface files whose writes fail with EINVAL.
const MARKERS: [&str; 3] = ["fake.v1", "fake.noswap", "fake.reject"];

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

/// The interface files of a new v1 cgroup under `parent` in a hierarchy of `kinds`.
fn v1_files(parent: &Path, kinds: &str) -> Vec<(&'static str, String)> {
    let has = |c: &str| kinds.split_whitespace().any(|k| k == c);
    let mut files = vec![("cgroup.procs", String::new()), ("tasks", String::new())];
    if has("memory") {
        let disabled = fs::read_to_string(parent.join("memory.oom_control"))
            .ok()
            .and_then(|t| keyed(&t, "oom_kill_disable"))
            .unwrap_or(0);
        let unlimited = "9223372036854771712".to_string();
        files.extend([
            ("memory.limit_in_bytes", unlimited.clone()),
            ("memory.usage_in_bytes", "0".to_string()),
            ("memory.max_usage_in_bytes", "0".to_string()),
            ("memory.failcnt", "0".to_string()),
            (
                "memory.oom_control",
                format!("oom_kill_disable {disabled}\nunder_oom 0\noom_kill 0\n"),
            ),
        ]);
        if has("memsw") {
            files.extend([
                ("memory.memsw.limit_in_bytes", unlimited),
                ("memory.memsw.usage_in_bytes", "0".to_string()),
                ("memory.memsw.max_usage_in_bytes", "0".to_string()),
                ("memory.memsw.failcnt", "0".to_string()),
            ]);
        }
    }
    if has("pids") {
        files.extend([
            ("pids.max", "max".to_string()),
            ("pids.current", "0".to_string()),
        ]);
    }
    if has("cpu") {
        files.extend([
            ("cpu.cfs_period_us", "100000".to_string()),
            ("cpu.cfs_quota_us", "-1".to_string()),
        ]);
    }
    files
}

/// The interface files of a new v2 cgroup under `parent` (from the controllers it enables).
fn v2_files(parent: &Path, noswap: bool) -> io::Result<Vec<(&'static str, String)>> {
    let controllers = words(&parent.join("cgroup.subtree_control"))?;
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
            ("memory.current", "0\n".to_string()),
            ("memory.peak", "0\n".to_string()),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n".to_string(),
            ),
            ("memory.oom.group", "0\n".to_string()),
        ]);
        if !noswap {
            files.push(("memory.swap.max", "max\n".to_string()));
        }
    }
    if has("pids") {
        files.push(("pids.max", "max\n".to_string()));
    }
    if has("cpu") {
        files.push(("cpu.max", "max 100000\n".to_string()));
    }
    Ok(files)
}

impl CgFs for FakeFs {
    fn mkdir(&self, p: &Path) -> io::Result<()> {
        let parent = p.parent().ok_or_else(|| errno(libc::EINVAL))?;
        let marker = |m: &str| fs::read_to_string(parent.join(m)).ok();
        let files = match marker("fake.v1") {
            Some(kinds) => v1_files(parent, &kinds),
            None => v2_files(parent, marker("fake.noswap").is_some())?,
        };
        fs::create_dir(p)?;
        for (f, v) in files {
            fs::write(p.join(f), v)?;
        }
        for m in MARKERS {
            if let Some(v) = marker(m) {
                fs::write(p.join(m), v)?;
            }
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
        let name = p.file_name().and_then(|n| n.to_str());
        if fs::read_to_string(dir.join("fake.reject"))
            .is_ok_and(|r| r.split_whitespace().any(|f| Some(f) == name))
        {
            return Err(errno(libc::EINVAL));
        }
        let overwrite = |p: &Path, data: &str| {
            fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(p)?
                .write_all(data.as_bytes())
        };
        match name {
            // v1: the maximum is reset to the current usage.
            Some(f @ ("memory.max_usage_in_bytes" | "memory.memsw.max_usage_in_bytes")) => {
                let usage = f.replace("max_usage", "usage");
                overwrite(p, &fs::read_to_string(dir.join(usage))?)
            }
            Some("memory.oom_control") => {
                let v: u8 = data.trim().parse().map_err(|_| errno(libc::EINVAL))?;
                let old = fs::read_to_string(p)?;
                let rest = old.split_once('\n').map_or("", |(_, r)| r);
                overwrite(p, &format!("oom_kill_disable {v}\n{rest}"))
            }
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
            _ => overwrite(p, data),
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

/// Set the fake `cgroup.procs` of `dir` and the matching `populated` of `cgroup.events` (v2)
/// or `pids.current` (v1 pids hierarchy).
fn set_procs(dir: &Path, procs: &str) {
    fs::write(dir.join("cgroup.procs"), procs).unwrap();
    let n = procs.lines().filter(|l| !l.trim().is_empty()).count();
    if dir.join("cgroup.events").exists() {
        let populated = u8::from(n > 0);
        fs::write(
            dir.join("cgroup.events"),
            format!("populated {populated}\nfrozen 0\n"),
        )
        .unwrap();
    }
    if dir.join("pids.current").exists() {
        fs::write(dir.join("pids.current"), n.to_string()).unwrap();
    }
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

/// A fake v1 host: `memory` (with `memory.memsw.*` when `memsw`), `pids` and `cpu`
/// hierarchies, each this process's own directory, with the markers `extra` (name, content)
/// in each.
fn fake_v1(memsw: bool, extra: &[(&str, &str)]) -> (tempfile::TempDir, Detected) {
    let t = tempfile::tempdir().unwrap();
    let kinds = [
        ("memory", if memsw { "memory memsw" } else { "memory" }),
        ("pids", "pids"),
        ("cpu", "cpu"),
    ];
    for (dir, kind) in kinds {
        let d = t.path().join(dir);
        fs::create_dir(&d).unwrap();
        fs::write(d.join("fake.v1"), kind).unwrap();
        fs::write(d.join("cgroup.procs"), "").unwrap();
        for (name, v) in extra {
            fs::write(d.join(name), v).unwrap();
        }
    }
    fs::write(
        t.path().join("memory/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    )
    .unwrap();
    let d = Detected::V1 {
        memory: t.path().join("memory"),
        pids: t.path().join("pids"),
        cpu: Some(t.path().join("cpu")),
        memsw,
    };
    (t, d)
}

/// The names below every directory of `t`, recursively.
fn tree(t: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in fs::read_dir(t).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(tree(&p));
        }
        v.push(p);
    }
    v.sort();
    v
}

/// Descriptors of this process open on files below `dir`.
fn fds_under(dir: &Path) -> usize {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
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
fn detect_refuses_dotdot_paths() {
    // `/../x` relative to the mount of `/` would be the directory next to the mount point,
    // which here even looks like a delegated cgroup.
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("mnt");
    let outside = t.path().join("x");
    fs::create_dir_all(&mnt).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("cgroup.subtree_control"), "memory pids\n").unwrap();
    let m = mnt.display();
    let mi = format!(
        "30 23 0:26 / {m} rw - cgroup2 cgroup2 rw\n\
         35 31 0:32 / {m} rw - cgroup cgroup rw,memory\n\
         39 31 0:36 / {m} rw - cgroup cgroup rw,pids\n"
    );
    let r = detect_from("0::/../x\n", &mi, None).unwrap_err();
    assert!(
        r.contains("cgroup v2: this process's v2 cgroup /../x lies outside"),
        "{r}"
    );
    assert!(r.contains("\"..\""), "{r}");
    let r = detect_from("4:memory:/../x\n8:pids:/\n", &mi, None).unwrap_err();
    assert!(r.contains("memory cgroup /../x lies outside"), "{r}");
    let r = detect_from("4:memory:/\n8:pids:/a/../../x\n", &mi, None).unwrap_err();
    assert!(r.contains("pids cgroup /a/../../x lies outside"), "{r}");
    // The same paths without `..` are fine where they exist.
    fs::create_dir_all(mnt.join("x")).unwrap();
    fs::write(mnt.join("x/cgroup.subtree_control"), "memory pids\n").unwrap();
    assert!(detect_from("0::/x\n", &mi, None).is_ok());
    // A mount whose root has `..` shows nothing.
    let bad = MountEntry {
        root: PathBuf::from("/a/.."),
        mountpoint: mnt.clone(),
        fstype: "cgroup2".into(),
        super_options: "rw".into(),
    };
    assert_eq!(dir_in_mount(&bad, "/a/../x"), None);
}

#[test]
fn detect_explicit_base_must_be_cgroup2() {
    // A plain directory that otherwise looks delegated.
    let base = fake_base("memory pids");
    let r = detect(Some(base.path())).unwrap_err();
    assert!(r.contains("is not on a cgroup2 filesystem"), "{r}");
    let r = detect(Some(&base.path().join("missing"))).unwrap_err();
    assert!(r.contains("cannot statfs"), "{r}");
    let r = detect(Some(Path::new("rel/dir"))).unwrap_err();
    assert!(r.contains("not an absolute path"), "{r}");
    // A real cgroup2 mount passes the filesystem check (and fails, if at all, later).
    let unified = Path::new("/sys/fs/cgroup/unified");
    if unified.join("cgroup.subtree_control").exists()
        && let Err(r) = detect(Some(unified))
    {
        assert!(!r.contains("cgroup2 filesystem"), "{r}");
    }
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
fn residue_limit_values() {
    assert_eq!(residue_limit(0), 4 * MIB);
    assert_eq!(residue_limit(64 * MIB), 4 * MIB);
    assert_eq!(residue_limit(256 * MIB), 16 * MIB);
    assert_eq!(residue_limit(u64::MAX), u64::MAX / 16);
}

#[test]
fn swap_total_parsing() {
    let mi = "MemTotal:       24683616 kB\nSwapCached:            0 kB\n\
              SwapTotal:       2097148 kB\nSwapFree:        2097148 kB\n";
    assert_eq!(swap_total_from(mi), 2_097_148 * 1024);
    assert_eq!(swap_total_from("SwapTotal:             0 kB\n"), 0);
    assert_eq!(swap_total_from("MemTotal: 1 kB\n"), 0);
    assert_eq!(swap_total_from("SwapTotal: x kB\n"), 0);
    let host = fs::read_to_string("/proc/meminfo").unwrap();
    assert_eq!(host_swap_total(), swap_total_from(&host));
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
    assert!(pool.swap_capped());
    let dirs = pool.dirs();
    // The parent and the first leaf, made by `Pool::new`.
    assert_eq!(dirs.len(), 2);
    let parent = dirs[1].clone();
    assert_eq!(dirs[0], parent.join("0"));
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
            oom_kills: 2,
            limit_hit: true,
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
    assert!(!lease.usage().limit_hit, "the baseline moved");
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
    // The reset happens when the leaf is taken again.
    assert!(leaf0.exists());
    let lease = pool.acquire().unwrap();
    assert!(
        !leaf0.exists(),
        "a leaf whose peak cannot be reset is removed"
    );
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
fn v2_idle_leaves_are_capped() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let parent = pool.dirs().last().unwrap().clone();
    let leases: Vec<Lease> = (0..20).map(|_| pool.acquire().unwrap()).collect();
    let leaves: Vec<PathBuf> = leases.iter().map(|l| l.dirs()[0].clone()).collect();
    assert_eq!(pool.dirs().len(), 21);
    let busy_fds = fds_under(&parent);
    let per_leaf = busy_fds / 20;
    assert!(per_leaf >= 4, "{busy_fds} descriptors for 20 leaves");
    drop(leases);
    let kept = pool.dirs().len() - 1;
    assert_eq!(kept, MAX_IDLE, "{:?}", pool.dirs());
    assert_eq!(leaves.iter().filter(|l| l.exists()).count(), MAX_IDLE);
    assert_eq!(fds_under(&parent), MAX_IDLE * per_leaf);
    // The kept leaves serve the next burst; the pool grows again only beyond them.
    let leases: Vec<Lease> = (0..MAX_IDLE).map(|_| pool.acquire().unwrap()).collect();
    assert_eq!(pool.dirs().len(), MAX_IDLE + 1);
    assert!(leases.iter().all(|l| leaves.contains(&l.dirs()[0])));
}

#[test]
fn v2_idle_leaf_with_residue_is_retired() {
    let base = fake_base("memory pids");
    // 64 MiB: at most 4 MiB may stay charged to a reused leaf.
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let leaf0 = lease.dirs()[0].clone();
    drop(lease);
    fs::write(leaf0.join("memory.current"), (4 * MIB).to_string()).unwrap();
    let lease = pool.acquire().unwrap();
    assert_eq!(lease.dirs()[0], leaf0, "4 MiB left: reused");
    drop(lease);
    fs::write(leaf0.join("memory.current"), (4 * MIB + 1).to_string()).unwrap();
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.dirs()[0], leaf0, "more than 4 MiB left: not reused");
    assert!(!leaf0.exists(), "and removed");
    assert_eq!(pool.dirs().len(), 2);
    drop(lease);

    // 256 MiB: up to 16 MiB.
    let s = Settings {
        memory: 256 * MIB,
        ..settings(None)
    };
    let pool = fake_pool(base.path(), false, &s);
    let lease = pool.acquire().unwrap();
    let leaf0 = lease.dirs()[0].clone();
    drop(lease);
    fs::write(leaf0.join("memory.current"), (5 * MIB).to_string()).unwrap();
    let lease = pool.acquire().unwrap();
    assert_eq!(lease.dirs()[0], leaf0, "5 MiB left: reused");
    let leaf1 = pool.acquire().unwrap();
    let leaf1_dir = leaf1.dirs()[0].clone();
    drop(lease);
    drop(leaf1);
    // Two idle leaves, both with too much: both go, a fresh one serves.
    fs::write(leaf0.join("memory.current"), (17 * MIB).to_string()).unwrap();
    fs::write(leaf1_dir.join("memory.current"), (17 * MIB).to_string()).unwrap();
    let lease = pool.acquire().unwrap();
    assert!(!leaf0.exists() && !leaf1_dir.exists());
    assert_eq!(pool.dirs().len(), 2, "{:?}", pool.dirs());
    drop(lease);
}

#[test]
fn v2_limit_hit_from_memory_events() {
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    let lease = pool.acquire().unwrap();
    let ev = lease.dirs()[0].join("memory.events");
    assert!(!lease.usage().limit_hit);
    fs::write(&ev, "low 0\nhigh 0\nmax 1\noom 0\noom_kill 0\n").unwrap();
    let u = lease.usage();
    assert!(u.limit_hit && u.oom_kills == 0, "{u:?}");
    drop(lease);
    let lease = pool.acquire().unwrap();
    assert!(!lease.usage().limit_hit, "baseline taken at acquire");
    // A host-wide OOM kill in the leaf: no limit event.
    fs::write(&ev, "low 0\nhigh 0\nmax 1\noom 0\noom_kill 1\n").unwrap();
    let u = lease.usage();
    assert!(!u.limit_hit && u.oom_kills == 1, "{u:?}");
    // An OOM at the leaf's limit counts `oom` (and `max`).
    fs::write(&ev, "low 0\nhigh 0\nmax 1\noom 1\noom_kill 2\n").unwrap();
    let u = lease.usage();
    assert!(u.limit_hit && u.oom_kills == 2, "{u:?}");
}

#[test]
fn v2_without_swap_accounting() {
    let base = fake_base("memory pids");
    fs::write(base.path().join("fake.noswap"), "").unwrap();
    let pool = fake_pool(base.path(), false, &settings(None));
    assert!(!pool.swap_capped());
    let lease = pool.acquire().unwrap();
    assert!(!lease.dirs()[0].join("memory.swap.max").exists());
    assert_eq!(
        cat(lease.dirs()[0].join("memory.max")),
        (64 * MIB).to_string()
    );
    drop(lease);
    let base = fake_base("memory pids");
    let pool = fake_pool(base.path(), false, &settings(None));
    assert!(pool.swap_capped());
    assert_eq!(cat(pool.dirs()[0].join("memory.swap.max")), "0");
}

#[test]
fn v2_limit_refused_in_a_leaf_fails_the_build() {
    let base = fake_base("cpu memory pids");
    fs::write(base.path().join("fake.reject"), "cpu.max").unwrap();
    let before = names(base.path());
    let d = Detected::V2 {
        base: base.path().to_path_buf(),
        cpu: true,
    };
    let e = Pool::with_fs(&d, &settings(Some(500)), &FAKE).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Cgroup {
                what: "write cpu.max",
                ..
            }
        ),
        "{e}"
    );
    assert!(!unavailable(&e));
    assert_eq!(names(base.path()), before, "nothing left behind");
    // Without a quota nothing writes cpu.max: the pool builds.
    drop(fake_pool(base.path(), true, &settings(None)));
    assert_eq!(names(base.path()), before);
}

// ---- v1 pool on the fake cgroupfs ----

#[test]
fn v1_fake_limits_swap_and_oom_control() {
    for memsw in [true, false] {
        let (t, d) = fake_v1(memsw, &[]);
        // The parent's parent disables the OOM killer: new cgroups copy that.
        fs::write(
            t.path().join("memory/memory.oom_control"),
            "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n",
        )
        .unwrap();
        let pool = Pool::with_fs(&d, &settings(Some(500)), &FAKE).unwrap();
        assert_eq!(pool.swap_capped(), memsw);
        let lease = pool.acquire().unwrap();
        let dirs = lease.dirs().to_vec();
        assert_eq!(dirs.len(), 3);
        let mem = &dirs[0];
        assert_eq!(
            cat(mem.join("memory.limit_in_bytes")),
            (64 * MIB).to_string()
        );
        if memsw {
            assert_eq!(
                cat(mem.join("memory.memsw.limit_in_bytes")),
                (64 * MIB).to_string()
            );
        }
        let parent_oc = cat(mem.parent().unwrap().join("memory.oom_control"));
        assert!(parent_oc.starts_with("oom_kill_disable 1"), "{parent_oc}");
        let oc = cat(mem.join("memory.oom_control"));
        assert!(oc.starts_with("oom_kill_disable 0"), "{oc}");
        assert_eq!(cat(dirs[1].join("pids.max")), "17");
        assert_eq!(cat(dirs[2].join("cpu.cfs_quota_us")), "50000");
        lease.join(4242).unwrap();
        assert_eq!(cat(dirs[1].join("pids.current")), "1");
        for d in &dirs {
            set_procs(d, "");
        }
        drop(lease);
        let all = pool.dirs();
        drop(pool);
        assert!(all.iter().all(|d| !d.exists()));
    }
}

#[test]
fn v1_fake_peak_reset_and_limit_hit_at_acquire() {
    let (_t, d) = fake_v1(true, &[]);
    let pool = Pool::with_fs(&d, &settings(None), &FAKE).unwrap();
    let lease = pool.acquire().unwrap();
    let mem = lease.dirs()[0].clone();
    assert_eq!(
        lease.usage(),
        Usage {
            peak_memory: Some(0),
            oom_kills: 0,
            limit_hit: false,
        }
    );
    // A run that reached its limit (memsw is charged first) and peaked at 50 MiB, leaving
    // 3 MiB charged.
    fs::write(mem.join("memory.memsw.failcnt"), "2").unwrap();
    fs::write(
        mem.join("memory.max_usage_in_bytes"),
        (50 * MIB).to_string(),
    )
    .unwrap();
    fs::write(mem.join("memory.usage_in_bytes"), (3 * MIB).to_string()).unwrap();
    let u = lease.usage();
    assert!(u.limit_hit && u.oom_kills == 0, "{u:?}");
    assert_eq!(u.peak_memory, Some(50 * MIB));
    drop(lease);
    // Released as is: nothing is reset before the next run takes the leaf.
    assert_eq!(
        cat(mem.join("memory.max_usage_in_bytes")),
        (50 * MIB).to_string()
    );
    assert_eq!(cat(mem.join("memory.memsw.failcnt")), "2");
    let lease = pool.acquire().unwrap();
    assert_eq!(lease.dirs()[0], mem, "3 MiB left: reused");
    assert_eq!(
        lease.usage(),
        Usage {
            peak_memory: Some(3 * MIB),
            oom_kills: 0,
            limit_hit: false,
        }
    );
    assert_eq!(cat(mem.join("memory.memsw.failcnt")), "0");
    assert_eq!(cat(mem.join("memory.failcnt")), "0");
    fs::write(mem.join("memory.failcnt"), "1").unwrap();
    fs::write(
        mem.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    )
    .unwrap();
    let u = lease.usage();
    assert!(u.limit_hit && u.oom_kills == 1, "{u:?}");
    drop(lease);
    // Failure counters at 0 (memsw is not counted by recent kernels) but a peak within one
    // huge page of the 64 MiB limit: hit. Either peak counts.
    for (file, peak, hit) in [
        ("memory.max_usage_in_bytes", 62 * MIB - 1, false),
        ("memory.max_usage_in_bytes", 62 * MIB, true),
        ("memory.memsw.max_usage_in_bytes", 64 * MIB, true),
    ] {
        fs::write(mem.join("memory.usage_in_bytes"), "0").unwrap();
        let lease = pool.acquire().unwrap();
        assert_eq!(lease.dirs()[0], mem);
        assert!(!lease.usage().limit_hit);
        fs::write(mem.join(file), peak.to_string()).unwrap();
        let u = lease.usage();
        assert_eq!(u.limit_hit, hit, "{file} {peak}: {u:?}");
        assert_eq!(u.oom_kills, 0);
    }
    // Too much left charged: retired.
    fs::write(mem.join("memory.usage_in_bytes"), (5 * MIB).to_string()).unwrap();
    let lease = pool.acquire().unwrap();
    assert_ne!(lease.dirs()[0], mem);
    assert!(!mem.exists());
    assert_eq!(lease.usage().oom_kills, 0);
}

#[test]
fn v1_fake_limit_refused_in_a_leaf_fails_the_build() {
    let (t, d) = fake_v1(true, &[("fake.reject", "cpu.cfs_quota_us")]);
    let before = tree(t.path());
    let e = Pool::with_fs(&d, &settings(Some(500)), &FAKE).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Cgroup {
                what: "write cpu.cfs_quota_us",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(tree(t.path()), before, "nothing left behind");
}

// ---- lazy pools (what `Pool::new` makes): no cgroup until the first run ----

/// A lazy pool on the fake cgroupfs, as `Pool::new` makes it on the real one.
fn lazy_pool(d: &Detected, s: &Settings) -> Result<Pool, Error> {
    Pool::with_fs_flat(d, s, &FAKE, false, true)
}

#[test]
fn v1_lazy_pool_makes_nothing_until_its_first_leaf() {
    for memsw in [true, false] {
        let (t, d) = fake_v1(memsw, &[]);
        let before = tree(t.path());
        let pool = lazy_pool(&d, &settings(Some(500))).unwrap();
        // Swap accounting is known before any cgroup exists.
        assert_eq!(pool.swap_capped(), memsw);
        assert!(pool.dirs().is_empty());
        assert_eq!(tree(t.path()), before, "nothing made at build");
        // A pool that never ran leaves nothing behind either.
        drop(pool);
        assert_eq!(tree(t.path()), before);

        let pool = lazy_pool(&d, &settings(Some(500))).unwrap();
        let lease = pool.acquire().unwrap();
        let dirs = lease.dirs().to_vec();
        assert_eq!(dirs.len(), 3);
        assert_eq!(
            cat(dirs[0].join("memory.limit_in_bytes")),
            (64 * MIB).to_string()
        );
        assert_eq!(cat(dirs[2].join("cpu.cfs_quota_us")), "50000");
        assert_eq!(pool.swap_capped(), memsw);
        // Leaves then parents.
        assert_eq!(pool.dirs().len(), 6, "{:?}", pool.dirs());
        drop(lease);
        // Reused: the same leaf comes back.
        assert_eq!(pool.acquire().unwrap().dirs(), dirs.as_slice());
        drop(pool);
        assert_eq!(tree(t.path()), before, "nothing left behind");
    }
}

#[test]
fn v1_lazy_pool_limit_refused_in_a_leaf_fails_the_run() {
    let (t, d) = fake_v1(true, &[("fake.reject", "cpu.cfs_quota_us")]);
    let before = tree(t.path());
    // The build cannot see it: no leaf is made there.
    let pool = lazy_pool(&d, &settings(Some(500))).unwrap();
    for _ in 0..2 {
        let e = pool.acquire().unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Cgroup {
                    what: "write cpu.cfs_quota_us",
                    ..
                }
            ),
            "{e}"
        );
        assert!(!unavailable(&e));
    }
    drop(pool);
    assert_eq!(tree(t.path()), before, "nothing left behind");
}

#[test]
fn v1_lazy_pool_checks_access_at_build() {
    let (t, d) = fake_v1(true, &[]);
    // A hierarchy directory that does not exist: the build fails, typed, naming the parent
    // it would have made.
    let Detected::V1 { pids, .. } = &d else {
        unreachable!()
    };
    fs::remove_file(pids.join("fake.v1")).unwrap();
    fs::remove_file(pids.join("cgroup.procs")).unwrap();
    fs::remove_dir(pids).unwrap();
    let e = lazy_pool(&d, &settings(None)).unwrap_err();
    match &e {
        Error::Cgroup { what, path, source } => {
            assert_eq!(*what, "create");
            assert!(path.starts_with(pids), "{}", path.display());
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
        }
        e => panic!("{e}"),
    }
    assert!(!unavailable(&e));
    // Unprivileged, a directory this process may not write to is "not offered here", as a
    // refused mkdir is (root passes the mode check, as its mkdir would).
    fs::create_dir(pids).unwrap();
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(pids, fs::Permissions::from_mode(0o555)).unwrap();
        let e = lazy_pool(&d, &settings(None)).unwrap_err();
        assert!(unavailable(&e), "{e}");
        fs::set_permissions(pids, fs::Permissions::from_mode(0o755)).unwrap();
    }
    drop(t);
}

#[test]
fn v2_lazy_pool_makes_its_parent_only() {
    for noswap in [false, true] {
        let base = fake_base("cpu memory pids");
        if noswap {
            fs::write(base.path().join("fake.noswap"), "").unwrap();
        }
        let before = names(base.path());
        let d = Detected::V2 {
            base: base.path().to_path_buf(),
            cpu: true,
        };
        let pool = lazy_pool(&d, &settings(Some(500))).unwrap();
        // The parent (the delegation probe) and nothing below it; swap accounting from the
        // parent's files.
        let dirs = pool.dirs();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        assert!(names(&dirs[0]).iter().all(|n| !dirs[0].join(n).is_dir()));
        assert_eq!(pool.swap_capped(), !noswap);
        let lease = pool.acquire().unwrap();
        assert_eq!(cat(lease.dirs()[0].join("cpu.max")), "50000 100000");
        assert_eq!(pool.swap_capped(), !noswap);
        drop(lease);
        drop(pool);
        assert_eq!(names(base.path()), before, "nothing left behind");
    }
    // A limit refused in a leaf fails the run, and the drop still removes the parent.
    let base = fake_base("cpu memory pids");
    fs::write(base.path().join("fake.reject"), "cpu.max").unwrap();
    let before = names(base.path());
    let d = Detected::V2 {
        base: base.path().to_path_buf(),
        cpu: true,
    };
    let pool = lazy_pool(&d, &settings(Some(500))).unwrap();
    let e = pool.acquire().unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Cgroup {
                what: "write cpu.max",
                ..
            }
        ),
        "{e}"
    );
    drop(pool);
    assert_eq!(names(base.path()), before);
}

#[test]
fn v1_real_lazy_pool_makes_nothing_at_build() {
    let Some(d) = real_v1() else { return };
    let pool = Pool::new(&d, &settings(None)).unwrap();
    let parents: Vec<PathBuf> = pool
        .inner()
        .layout
        .parents()
        .into_iter()
        .map(Path::to_path_buf)
        .collect();
    assert!(pool.dirs().is_empty());
    assert!(parents.iter().all(|p| !p.exists()), "{parents:?}");
    drop(pool);
    let pool = Pool::new(&d, &settings(None)).unwrap();
    let lease = pool.acquire().unwrap();
    let all = pool.dirs();
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(all.iter().all(|p| p.is_dir()));
    drop(lease);
    drop(pool);
    assert!(all.iter().all(|d| !d.exists()));
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
        !pool.inner().is_empty(leaf),
        "reads through the kept descriptors are fresh"
    );
    assert!(!lease.kill(), "v1 has no cgroup.kill");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pool.inner().is_empty(leaf));
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
    assert!(u.limit_hit, "{u:?}");
    let peak = u.peak_memory.unwrap();
    assert!(
        (48 * MIB..=64 * MIB).contains(&peak),
        "peak {peak} should be close to the 64 MiB limit"
    );
    let dirs = lease.dirs().to_vec();
    drop(lease);
    let residue = cat(dirs[0].join("memory.usage_in_bytes"))
        .parse::<u64>()
        .unwrap();
    let lease = pool.acquire().unwrap();
    // Reused unless python's page cache, first read by this run, is still charged to it.
    if residue <= residue_limit(s.memory) {
        assert_eq!(
            lease.dirs(),
            dirs.as_slice(),
            "the leaf is reused after an OOM"
        );
    }
    let u = lease.usage();
    eprintln!("after reset (residue {residue}): {u:?}");
    assert_eq!(u.oom_kills, 0);
    assert!(!u.limit_hit, "{u:?}");
    assert!(u.peak_memory.unwrap() <= residue_limit(s.memory), "{u:?}");
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
    let inner = pool.inner();
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
    // A lazy pool sweeps when it makes its parents, at its first leaf.
    drop(pool.acquire().unwrap());
    for dir in &stale {
        assert!(!dir.exists(), "{} not swept", dir.display());
    }
    drop(pool);
}

/// Removes a directory made by a test (and the children listed) even when the test fails.
struct RmdirGuard(Vec<PathBuf>);

impl Drop for RmdirGuard {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = fs::remove_dir(d);
        }
    }
}

#[test]
fn v1_real_leaves_have_the_oom_killer_on() {
    let Some(d) = real_v1() else { return };
    let Detected::V1 {
        memory,
        pids,
        memsw,
        ..
    } = &d
    else {
        return;
    };
    // An intermediate cgroup of ours that disables the OOM killer: the pool's parent below
    // it copies that, as new memory cgroups do.
    let mid = memory.join(format!("runcell-test-oomctl-{}", std::process::id()));
    fs::create_dir(&mid).unwrap();
    let _guard = RmdirGuard(vec![mid.clone()]);
    fs::write(mid.join("memory.oom_control"), "1").unwrap();
    assert!(cat(mid.join("memory.oom_control")).starts_with("oom_kill_disable 1"));
    let d = Detected::V1 {
        memory: mid.clone(),
        pids: pids.clone(),
        cpu: None,
        memsw: *memsw,
    };
    let pool = Pool::new(&d, &settings(None)).unwrap();
    assert_eq!(pool.swap_capped(), *memsw);
    let lease = pool.acquire().unwrap();
    let leaf = lease.dirs()[0].clone();
    let parent_oc = cat(leaf.parent().unwrap().join("memory.oom_control"));
    assert!(parent_oc.starts_with("oom_kill_disable 1"), "{parent_oc}");
    let oc = cat(leaf.join("memory.oom_control"));
    assert!(oc.starts_with("oom_kill_disable 0"), "{oc}");
    drop(lease);
    drop(pool);
}

#[test]
fn v1_real_page_cache_residue_is_not_reused() {
    let Some(d) = real_v1() else { return };
    let s = Settings {
        memory: 256 * MIB,
        pids: 16,
        cpu_quota: None,
    };
    let limit = residue_limit(s.memory);
    let pool = Pool::new(&d, &s).unwrap();
    let lease = pool.acquire().unwrap();
    let dirs = lease.dirs().to_vec();
    // The run writes and reads a new 64 MiB file: its page cache is charged to the leaf and
    // stays charged after the run (the file outlives it).
    let tmp = tempfile::tempdir_in("/var/tmp").unwrap();
    let file = tmp.path().join("big");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read x; dd if=/dev/zero of=\"$1\" bs=1M count=64 2>/dev/null; cat \"$1\" >/dev/null")
        .arg("sh")
        .arg(&file)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    lease.join(child.id() as libc::pid_t).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(fs::metadata(&file).unwrap().len(), 64 * MIB);
    let residue: u64 = cat(dirs[0].join("memory.usage_in_bytes")).parse().unwrap();
    let u = lease.usage();
    eprintln!("after the run: residue {residue}, {u:?}");
    assert!(
        residue > limit,
        "residue {residue}: the premise does not hold"
    );
    drop(lease);
    let lease = pool.acquire().unwrap();
    let u = lease.usage();
    eprintln!("next run: {:?} {u:?}", lease.dirs());
    assert_ne!(
        lease.dirs(),
        dirs.as_slice(),
        "the leaf with the residue is not reused"
    );
    assert!(dirs.iter().all(|d| !d.exists()), "and removed");
    assert!(u.peak_memory.unwrap() <= limit, "{u:?}");
    assert!(!u.limit_hit && u.oom_kills == 0, "{u:?}");
}

#[test]
fn v1_real_idle_leaves_are_capped() {
    let Some(d) = real_v1() else { return };
    let pool = Pool::new(&d, &settings(None)).unwrap();
    let leases: Vec<Lease> = (0..20).map(|_| pool.acquire().unwrap()).collect();
    let parent = pool.dirs().first().unwrap().parent().unwrap().to_path_buf();
    let busy_fds = fds_under(&parent);
    drop(leases);
    let idle_fds = fds_under(&parent);
    eprintln!("v1 descriptors: 20 leaves {busy_fds}, {MAX_IDLE} idle {idle_fds}");
    assert_eq!(pool.dirs().len(), 2 * (MAX_IDLE + 1));
    assert_eq!(idle_fds * 20, busy_fds * MAX_IDLE);
    let all = pool.dirs();
    drop(pool);
    assert!(all.iter().all(|d| !d.exists()));
}

#[test]
fn v1_real_single_run_pool_is_flat_and_self_join_moves_the_writer() {
    let Some(d) = real_v1() else { return };
    let Detected::V1 { memory, pids, .. } = d.clone() else {
        return;
    };
    let s = Settings {
        memory: 64 * MIB,
        pids: 32,
        cpu_quota: None,
    };
    let pool = Pool::new_single(&d, &s).unwrap();
    let lease = pool.acquire().unwrap();
    let dirs = lease.dirs().to_vec();
    // Directly in the process's own cgroups, named like a pool parent (so the sweep knows it).
    assert_eq!(dirs.len(), 2);
    assert_eq!(dirs[0].parent().unwrap(), memory);
    assert_eq!(dirs[1].parent().unwrap(), pids);
    let name = dirs[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(
        parse_parent_name(name),
        Some((std::process::id(), pid_ns()))
    );
    assert_eq!(
        cat(dirs[0].join("memory.limit_in_bytes")),
        (64 * MIB).to_string()
    );
    assert_eq!(cat(dirs[1].join("pids.max")), "32");
    // Self-join: a forked child writes `0` into the kept `tasks` descriptors and lands in
    // the leaf of every hierarchy.
    let fds = lease.self_join_fds();
    assert_eq!(fds.len(), 2);
    // Two pipes: the child reports on one and waits on the other.
    let (report_r, report_w) = crate::sys::pipe(0).unwrap();
    let (go_r, go_w) = crate::sys::pipe(0).unwrap();
    // SAFETY: the child only makes raw write/read/exit calls on prepared data.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut ok = true;
        for &fd in &fds {
            ok &= crate::sys::write_all(fd, b"0").is_ok();
        }
        let _ = crate::sys::write_all(report_w, if ok { b"y" } else { b"n" });
        let mut b = [0u8; 1];
        // Wait until the parent has looked, then leave.
        let _ = crate::sys::read(go_r, &mut b);
        crate::sys::exit(0);
    }
    let mut b = [0u8; 1];
    assert_eq!(crate::sys::read(report_r, &mut b), Ok(1));
    assert_eq!(&b, b"y");
    for d in &dirs {
        assert_eq!(
            cat(d.join("cgroup.procs")),
            pid.to_string(),
            "{}",
            d.display()
        );
    }
    let _ = crate::sys::write_all(go_w, b"x");
    let mut st = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    for fd in [report_r, report_w, go_r, go_w] {
        crate::sys::close(fd);
    }
    drop(lease);
    let all = pool.dirs();
    assert_eq!(all, dirs, "a flat pool lists no parent");
    drop(pool);
    for d in all {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    assert!(memory.exists() && pids.exists(), "own cgroups stay");
}

#[test]
fn flat_pool_v2_fake_leaves_base_alone() {
    let base = fake_base("memory pids");
    let d = Detected::V2 {
        base: base.path().to_path_buf(),
        cpu: false,
    };
    let pool = Pool::with_fs_flat(&d, &settings(None), &FAKE, true, false).unwrap();
    let lease = pool.acquire().unwrap();
    let leaf = lease.dirs()[0].clone();
    assert_eq!(leaf.parent().unwrap(), base.path());
    assert!(lease.self_join_fds().is_empty(), "v2: the host joins");
    let second = pool.acquire().unwrap();
    assert_ne!(second.dirs()[0], leaf, "each run its own leaf");
    drop((lease, second));
    drop(pool);
    assert!(base.path().exists());
    assert!(!leaf.exists());
}

// ---- a host that forks ----

/// Wait for forked child `pid`; true when it exited with 0.
fn child_succeeded(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: waits for a child this test forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// A forked copy of the host (a worker forked after the sandbox was built and ran) runs in a
/// pool of its own, named after its own pid, and its drop removes only that: before, its
/// runs took the parent's idle leaves and its drop removed the parent's parents and leaves
/// (the parent's next run failed with `Cgroup { what: "create", NotFound }` on v1).
#[test]
fn a_forked_copy_runs_in_a_pool_of_its_own() {
    let (t, d) = fake_v1(true, &[]);
    let before = tree(t.path());
    let pool = lazy_pool(&d, &settings(None)).unwrap();
    let first = pool.acquire().unwrap().dirs().to_vec();
    let parents_dirs = pool.dirs();
    assert_eq!(parents_dirs.len(), 4, "{parents_dirs:?}");
    // SAFETY: the child uses the pool (glibc makes malloc usable after fork) and leaves with
    // _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: a hang ends the child.
        unsafe { libc::alarm(30) };
        let me = format!("runcell-{}-", std::process::id());
        let ok = (|| {
            let lease = pool.acquire().ok()?;
            let own = pool.dirs();
            let mine = |d: &PathBuf| d.to_string_lossy().contains(&me);
            let fresh = lease.dirs().iter().all(mine) && own.len() == 4 && own.iter().all(mine);
            drop(lease);
            drop(pool);
            // Its own are gone with its last handle; the parent's are all there.
            Some(
                fresh && own.iter().all(|d| !d.exists()) && parents_dirs.iter().all(|d| d.exists()),
            )
        })();
        // SAFETY: ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(if ok == Some(true) { 0 } else { 1 }) };
    }
    assert!(
        child_succeeded(pid),
        "the forked copy used or removed the parent's cgroups"
    );
    assert!(parents_dirs.iter().all(|d| d.exists()));
    assert_eq!(pool.acquire().unwrap().dirs(), first.as_slice(), "reused");
    drop(pool);
    assert_eq!(tree(t.path()), before, "nothing left behind");
}

/// A fork taken while another thread holds the pool's lock: the child's runs never wait on
/// it (before, the child's first acquire waited for ever). The child exits without dropping
/// its handles (a thread of the parent held another one): what it made is removed with the
/// parent's pool, by the sweep of dead processes' leftovers.
#[test]
fn a_fork_while_the_pool_is_locked_does_not_hang_the_child() {
    let (t, d) = fake_v1(true, &[]);
    let before = tree(t.path());
    let pool = lazy_pool(&d, &settings(None)).unwrap();
    drop(pool.acquire().unwrap());
    let (held, hold) = std::sync::mpsc::channel::<()>();
    let (done, finish) = std::sync::mpsc::channel::<()>();
    let theirs = pool.clone();
    let holder = std::thread::spawn(move || {
        let g = theirs.inner().lock();
        held.send(()).unwrap();
        let _ = finish.recv();
        drop(g);
        theirs
    });
    hold.recv().unwrap();
    let status = fork::in_forked_child(30, || {
        let me = format!("runcell-{}-", std::process::id());
        (0..3).all(|_| {
            pool.acquire()
                .is_ok_and(|l| l.dirs().iter().all(|d| d.to_string_lossy().contains(&me)))
        })
    });
    done.send(()).unwrap();
    let theirs = holder.join().unwrap();
    assert_eq!(
        status, 0,
        "the child hung on its parent's lock or used its cgroups"
    );
    drop((pool, theirs));
    assert_eq!(tree(t.path()), before, "the child's leftovers were swept");
}
