//! The root built from one ordered plan (issue 10 item 2), on the real kernel, as root and as
//! an unprivileged host (the test binary re-runs itself as uid 65534):
//!
//! - the mount matrix: binds and tmpfs under /tmp and under the workdir, nested mounts inside
//!   read-only and read-write binds, a file over a file, sources inside a private 0700 dir,
//!   read-only everywhere asked (writes fail), the report equal to what is mounted;
//! - impossible configurations fail at build() naming the paths;
//! - two-run attacks: a run with a read-write bind plants symlinks (destination side and source
//!   side, absolute and `..`); the next run creates nothing on the host outside its binds and
//!   exposes nothing that was not configured.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use runcell::{Command, Error, Profile, Sandbox, SandboxBuilder, Verdict};

fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .profile(Profile::named("python").expect("python profile"))
        .wall_time(Duration::from_secs(20))
}

/// A private directory the way every temp-dir API makes one (mode 0700).
fn private_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("runcell-rootfs-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        std::fs::metadata(d.path()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    d
}

/// Every file and directory below `dir` (relative paths), not following symlinks.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            }
        }
    }
    out
}

const CHECKS: &str = r#"
import json, os, errno
res = {}
def read(p):
    try:
        return open(p).read()
    except OSError as e:
        return errno.errorcode[e.errno]
def write(p):
    try:
        with open(p, 'w') as f:
            f.write('w')
        return 'OK'
    except OSError as e:
        return errno.errorcode[e.errno]
for p in ['/tmp/in/a.txt', '/work/single.txt', '/data/f.txt', '/data/sub/a.txt', '/tmp/in/f.txt']:
    res['read ' + p] = read(p)
for p in ['/tmp/in/x', '/tmp/in/sub/x', '/tmp/scratch/x', '/work/y', '/work/single.txt',
          '/data/f.txt', '/data/new', '/data/sub/z', '/data/sub/sub/deep', '/usr/x', '/x',
          '/tmp/in/f.txt']:
    res['write ' + p] = write(p)
res['cwd'] = os.getcwd()
mi = []
for line in open('/proc/self/mountinfo'):
    f = line.split()
    mi.append([f[4], f[5].split(',')])
res['mountinfo'] = mi
print(json.dumps(res))
"#;

fn matrix() {
    let d = private_dir();
    let root = d.path();
    for sub in ["in/sub", "rw/sub"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("in/a.txt"), "A").unwrap();
    std::fs::write(root.join("in/f.txt"), "F").unwrap();
    std::fs::write(root.join("rw/f.txt"), "RWF").unwrap();
    std::fs::write(root.join("single.txt"), "S").unwrap();
    // The sandbox writes into the read-write bind as its own host uid.
    std::fs::set_permissions(root.join("rw"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let before_in = tree(&root.join("in"));

    let sb = builder()
        .workdir("/work")
        // A bind and a tmpfs under /tmp (the private /tmp must not hide them).
        .ro_bind(root.join("in"), "/tmp/in")
        .tmpfs("/tmp/scratch", 1 << 20)
        // A tmpfs nested inside a read-only bind (its mount point exists in the source).
        .tmpfs("/tmp/in/sub", 1 << 20)
        // A file bound under the workdir (the workdir's own tmpfs).
        .ro_bind(root.join("single.txt"), "/work/single.txt")
        // A read-write bind with a file over a file and a read-only bind nested in it.
        .bind(root.join("rw"), "/data")
        .ro_bind(root.join("single.txt"), "/data/f.txt")
        .ro_bind(root.join("in"), "/data/sub")
        // The same source a second time, below a read-only bind: file over file.
        .ro_bind(root.join("single.txt"), "/tmp/in/f.txt")
        .build()
        .expect("build");
    let o = sb
        .run(&Command::new("python3").arg("-"), CHECKS.as_bytes())
        .expect("run");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let res: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    let want: BTreeMap<&str, &str> = [
        ("read /tmp/in/a.txt", "A"),
        ("read /work/single.txt", "S"),
        ("read /data/f.txt", "S"),
        ("read /data/sub/a.txt", "A"),
        ("read /tmp/in/f.txt", "S"),
        ("write /tmp/in/x", "EROFS"),
        ("write /tmp/in/sub/x", "OK"),
        ("write /tmp/scratch/x", "OK"),
        ("write /work/y", "OK"),
        ("write /work/single.txt", "EROFS"),
        ("write /data/f.txt", "EROFS"),
        ("write /data/new", "OK"),
        ("write /data/sub/z", "EROFS"),
        ("write /data/sub/sub/deep", "EROFS"),
        ("write /usr/x", "EROFS"),
        ("write /x", "EROFS"),
        ("write /tmp/in/f.txt", "EROFS"),
        ("cwd", "/work"),
    ]
    .into_iter()
    .collect();
    for (k, v) in &want {
        assert_eq!(res[k].as_str(), Some(*v), "{k}: {res}");
    }
    // The host: the read-write bind got exactly the sandbox's file; nothing else changed.
    assert_eq!(std::fs::read_to_string(root.join("rw/new")).unwrap(), "w");
    assert_eq!(
        tree(&root.join("rw")),
        ["f.txt", "new", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(tree(&root.join("in")), before_in);
    assert_eq!(
        std::fs::read_to_string(root.join("rw/f.txt")).unwrap(),
        "RWF"
    );

    // The report equals what is mounted: every reported bind/tmpfs is a mount point with the
    // asked read-only state, and every mount point is reported or one of runcell's own.
    let mounted: BTreeMap<String, Vec<String>> = res["mountinfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m[0].as_str().unwrap().to_string(),
                m[1].as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    let mut reported = BTreeSet::new();
    for entry in &sb.enforced().mounts {
        let parts: Vec<&str> = entry.split(':').collect();
        let (kind, dst) = (parts[0], *parts.last().unwrap());
        if !matches!(kind, "ro" | "rw" | "tmpfs") {
            continue;
        }
        reported.insert(dst.to_string());
        let opts = mounted
            .get(dst)
            .unwrap_or_else(|| panic!("{entry} reported but not mounted: {mounted:?}"));
        assert_eq!(
            opts.contains(&"ro".to_string()),
            kind == "ro",
            "{entry}: {opts:?}"
        );
        assert!(opts.contains(&"nosuid".to_string()), "{entry}: {opts:?}");
    }
    let own: BTreeSet<&str> = [
        "/",
        "/proc",
        "/dev",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/shm",
        "/tmp",
        "/work",
    ]
    .into_iter()
    .collect();
    for (dst, opts) in &mounted {
        assert!(
            reported.contains(dst) || own.contains(dst.as_str()),
            "{dst} is mounted but not reported: {:?}",
            sb.enforced().mounts
        );
        if dst == "/" || dst == "/dev" {
            assert!(opts.contains(&"ro".to_string()), "{dst}: {opts:?}");
        }
    }
    for dst in [
        "/tmp/in",
        "/tmp/scratch",
        "/tmp/in/sub",
        "/data",
        "/data/f.txt",
        "/data/sub",
    ] {
        assert!(reported.contains(dst), "{dst} not reported");
    }
}

#[test]
fn mount_matrix_as_root_and_unprivileged() {
    as_root_and_unprivileged("mount_matrix_as_root_and_unprivileged", matrix);
}

fn build_err(b: SandboxBuilder) -> String {
    match b.build() {
        Ok(_) => panic!("build() accepted an impossible root"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn impossible_roots_fail_at_build_naming_the_paths() {
    let d = private_dir();
    let root = d.path();
    std::fs::create_dir(root.join("dir")).unwrap();
    std::fs::write(root.join("file"), "x").unwrap();
    std::os::unix::fs::symlink("/etc", root.join("dir/link")).unwrap();

    let e = build_err(builder().tmpfs("/x", 4096).tmpfs("/x", 4096));
    assert!(e.contains("/x"), "{e}");
    let e = build_err(
        builder()
            .ro_bind(root.join("dir"), "/y")
            .bind(root.join("dir"), "/y"),
    );
    assert!(e.contains("/y"), "{e}");
    let e = build_err(
        builder()
            .ro_bind(root.join("file"), "/f")
            .tmpfs("/f/below", 4096),
    );
    assert!(e.contains("/f/below") && e.contains("file"), "{e}");
    let e = build_err(builder().tmpfs("/proc/sys", 4096));
    assert!(e.contains("/proc/sys"), "{e}");
    // Nothing is created inside a bind: the mount point must exist in the source.
    let e = build_err(
        builder()
            .ro_bind(root.join("dir"), "/in")
            .tmpfs("/in/new", 4096),
    );
    assert!(e.contains("new"), "{e}");
    // ... and is never a symlink there.
    let e = build_err(
        builder()
            .ro_bind(root.join("dir"), "/in")
            .tmpfs("/in/link", 4096),
    );
    assert!(e.contains("symlink"), "{e}");
    // A workdir inside a bind must exist there too.
    let e = build_err(
        builder()
            .ro_bind(root.join("dir"), "/in")
            .workdir("/in/nowhere"),
    );
    assert!(e.contains("nowhere"), "{e}");
    // A directory over a file.
    let e = build_err(
        builder()
            .ro_bind(root.join("dir"), "/in")
            .ro_bind(root.join("dir"), "/in/link/x"),
    );
    assert!(e.contains("/in/link"), "{e}");
    // A source through a symlink not owned by root (as a sandbox would have planted it).
    let user_link = root.join("userlink");
    std::os::unix::fs::symlink(root.join("dir"), &user_link).unwrap();
    if is_root() {
        let c = std::ffi::CString::new(user_link.to_str().unwrap()).unwrap();
        // SAFETY: lchown on a NUL-terminated path we just created.
        assert_eq!(unsafe { libc::lchown(c.as_ptr(), 65534, 65534) }, 0);
    }
    let e = build_err(builder().ro_bind(&user_link, "/src"));
    assert!(e.contains("userlink") && e.contains("symlink"), "{e}");
    // What build() accepts works: a workdir under /tmp (ENOENT before), binds under /tmp.
    let sb = builder()
        .workdir("/tmp/work/deep")
        .ro_bind(root.join("dir"), "/tmp/in")
        .build()
        .unwrap();
    let o = sb
        .run(
            &Command::new("python3").arg("-"),
            b"import os; print(os.getcwd(), sorted(os.listdir('/tmp/in')))",
        )
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "/tmp/work/deep ['link']");
}

/// Two-run attacks. Run 1 has a read-write bind of W at /work and replaces, inside W, what the
/// configuration uses as mount points and as a bind source with symlinks to a host directory
/// (absolute, through the old root's path, and with `..`). Run 2 of the same sandbox must not
/// create anything on the host outside its binds nor show the host directory; a sandbox built
/// after the plant must refuse the symlinks at build().
fn two_runs() {
    let d = private_dir();
    let w = d.path().join("w");
    let secret = d.path().join("secret");
    let victim = d.path().join("victim");
    for p in [&w, &secret, &victim] {
        std::fs::create_dir_all(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::write(secret.join("key"), "SECRET-MARKER").unwrap();
    for sub in ["in", "dots", "ref", "old"] {
        std::fs::create_dir(w.join(sub)).unwrap();
        std::fs::set_permissions(w.join(sub), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::create_dir(w.join("in/sub")).unwrap();
    std::fs::write(w.join("ref/ok"), "REF").unwrap();
    let inputs = d.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::write(inputs.join("input"), "IN").unwrap();

    // Mount points inside the read-write bind (destination side).
    let dst_side = builder()
        .workdir("/work")
        .bind(&w, "/work")
        .ro_bind(&inputs, "/work/in")
        .tmpfs("/work/dots", 1 << 20)
        .tmpfs("/work/old", 1 << 20)
        .build()
        .expect("build");
    // A source inside the read-write bind (source side).
    let src_side = builder()
        .ro_bind(w.join("ref"), "/ref")
        .build()
        .expect("build");
    let o = src_side
        .run(&Command::new("cat").arg("/ref/ok"), b"")
        .expect("run");
    assert_eq!(stdout(&o), "REF");
    // Run 1 cannot remove a mount point that is mounted over; it plants through a second
    // sandbox that binds W alone (the shape of "an earlier job with a rw work dir").
    let planter = builder().bind(&w, "/w").build().expect("build planter");
    let code = format!(
        r#"
import os, shutil
for name, target in [('in', '{victim}'), ('dots', '../../../../../../../../{victim_rel}'),
                     ('old', '/.oldroot{victim}'), ('ref', '{secret}')]:
    p = '/w/' + name
    shutil.rmtree(p)
    os.symlink(target, p)
print('planted')
"#,
        victim = victim.display(),
        victim_rel = victim.strip_prefix("/").unwrap().display(),
        secret = secret.display(),
    );
    let o = planter
        .run(&Command::new("python3").arg("-"), code.as_bytes())
        .expect("run planter");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(w.join("in"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // The next runs of the sandboxes built before the plant: setup fails on the planted
    // symlink (a mount point or a source is never reached through one), and names it.
    for (sb, name) in [(&dst_side, "/work/"), (&src_side, "ref")] {
        let r = sb.run(
            &Command::new("sh")
                .arg("-c")
                .arg("cat /ref/key /work/*/key; ls -R /work /ref"),
            b"",
        );
        match r {
            Err(Error::Setup { detail, .. }) => {
                let detail = detail.unwrap_or_default();
                assert!(detail.contains(name), "{detail}");
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(o) => panic!(
                "setup went through a planted symlink: {} {}",
                stdout(&o),
                stderr(&o)
            ),
        }
    }
    // Nothing was created on the host outside the binds.
    assert!(tree(&victim).is_empty(), "{:?}", tree(&victim));
    assert_eq!(
        tree(&secret),
        ["key"].iter().map(|s| s.to_string()).collect()
    );
    // A sandbox configured after the plant refuses it at build().
    let e = build_err(builder().bind(&w, "/work").ro_bind(&inputs, "/work/in"));
    assert!(e.contains("symlink"), "{e}");
    let e = build_err(builder().ro_bind(w.join("ref"), "/ref"));
    assert!(e.contains("symlink"), "{e}");
    assert!(tree(&victim).is_empty());
}

#[test]
fn planted_symlinks_never_steer_a_later_run_as_root_and_unprivileged() {
    as_root_and_unprivileged(
        "planted_symlinks_never_steer_a_later_run_as_root_and_unprivileged",
        two_runs,
    );
}

/// The sandbox cannot see the host's root at all: not as the old root, not through /proc.
#[test]
fn the_host_root_is_gone_before_the_program_starts() {
    let o = py_with(
        builder(),
        r#"
import os
print(os.path.exists('/.oldroot'), os.listdir('/proc/1/root') if os.access('/proc/1/root', os.R_OK) else 'denied')
print(sorted(os.listdir('/')))
"#,
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("False"), "{out}");
    assert!(!out.contains("home") && !out.contains("root'"), "{out}");
}
