//! Runs cloned from a root plan's template mount namespace (root hosts; DESIGN §3 step 1), on
//! the real kernel, as root and as an unprivileged host (the test binary re-runs itself as uid
//! 65534, which never uses a template):
//!
//! - which path a run took: from the template its `/proc` lies over the template's own (of a
//!   dead PID namespace), so /proc/self/mountinfo shows two procfs mounts there;
//! - the template's part of the root cannot be written, and nothing a run writes or tries to
//!   change is seen by the next run;
//! - a `Command`'s own mounts (not in the template) still work (those runs build their root
//!   from the host's);
//! - a bind source replaced on the host after the template was made is what the next run sees.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use runcell::{Command, Profile, Sandbox, SandboxBuilder, Verdict};

fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .profile(Profile::named("python").expect("python profile"))
        .wall_time(Duration::from_secs(20))
}

/// Mount a tmpfs at `path` in this test's own mount namespace.
fn mount_tmpfs(path: &std::ffi::CStr) {
    // SAFETY: NUL-terminated strings.
    let r = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            path.as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            c"mode=1777".as_ptr().cast(),
        )
    };
    assert_eq!(r, 0, "mount tmpfs {path:?}");
}

/// How many procfs mounts are at /proc in the run of `sb`.
fn procs_at_proc(sb: &Sandbox, cmd: Command) -> usize {
    let o = sb.run(&cmd.arg("/proc/self/mountinfo"), b"").expect("run");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.get(4) == Some(&"/proc") && l.contains(" - proc ")
        })
        .count()
}

const WRITER: &str = r#"
import os, errno
res = []
def attempt(name, f):
    try:
        f()
        res.append(name + ":ok")
    except OSError as e:
        res.append(name + ":" + errno.errorcode[e.errno])
def write(p):
    with open(p, "w") as fh:
        fh.write("left by run 1")
attempt("root-file", lambda: write("/left"))
attempt("etc-file", lambda: write("/etc/left"))
attempt("etc-passwd", lambda: write("/etc/passwd"))
attempt("dev-file", lambda: write("/dev/left"))
attempt("usr-file", lambda: write("/usr/left"))
attempt("root-mkdir", lambda: os.mkdir("/leftdir"))
attempt("root-chmod", lambda: os.chmod("/", 0o777))
attempt("etc-chmod", lambda: os.chmod("/etc/hosts", 0o666))
attempt("root-symlink", lambda: os.symlink("/tmp", "/leftlink"))
attempt("tmp-file", lambda: write("/tmp/left"))
attempt("shm-file", lambda: write("/dev/shm/left"))
print(" ".join(res))
"#;

const LOOKER: &str = r#"
import os
seen = []
for p in ["/left", "/etc/left", "/dev/left", "/usr/left", "/leftdir", "/leftlink", "/tmp/left",
          "/dev/shm/left"]:
    if os.path.lexists(p):
        seen.append(p)
print("seen:" + ",".join(seen))
print("passwd-mode:%o" % (os.stat("/etc/passwd").st_mode & 0o777))
print("root-mode:%o" % (os.stat("/").st_mode & 0o777))
print("passwd-has-sandbox:%s" % ("sandbox:" in open("/etc/passwd").read()))
print("tmp:" + ",".join(sorted(os.listdir("/tmp"))))
print("root:" + ",".join(sorted(os.listdir("/"))))
"#;

fn nothing_reaches_the_next_run() {
    let sb = builder().build().expect("build");
    let cat = || Command::new("cat");
    // The path taken: root hosts clone from the template (two procfs at /proc), others not.
    let want = if is_root() { 2 } else { 1 };
    assert_eq!(procs_at_proc(&sb, cat()), want);
    let before = sb
        .run(&Command::new("python3").arg("-"), LOOKER.as_bytes())
        .expect("run");
    assert_eq!(before.verdict, Verdict::Ok, "{}", stderr(&before));
    let w = sb
        .run(&Command::new("python3").arg("-"), WRITER.as_bytes())
        .expect("run");
    assert_eq!(w.verdict, Verdict::Ok, "{}", stderr(&w));
    let got = stdout(&w);
    for name in [
        "root-file",
        "etc-file",
        "etc-passwd",
        "dev-file",
        "usr-file",
        "root-mkdir",
        "root-chmod",
        "etc-chmod",
        "root-symlink",
    ] {
        assert!(
            got.contains(&format!("{name}:EROFS")) || got.contains(&format!("{name}:EPERM")),
            "{name} was not refused: {got}"
        );
    }
    // The run's own writable layers work.
    assert!(
        got.contains("tmp-file:ok") && got.contains("shm-file:ok"),
        "{got}"
    );
    let after = sb
        .run(&Command::new("python3").arg("-"), LOOKER.as_bytes())
        .expect("run");
    assert_eq!(after.verdict, Verdict::Ok, "{}", stderr(&after));
    assert_eq!(stdout(&after), stdout(&before));
    assert!(stdout(&after).contains("seen:\n"), "{}", stdout(&after));
    assert!(stdout(&after).contains("passwd-has-sandbox:True"));
    assert_eq!(procs_at_proc(&sb, cat()), want);
}

#[test]
fn nothing_reaches_the_next_run_as_root_and_unprivileged() {
    as_root_and_unprivileged(
        "nothing_reaches_the_next_run_as_root_and_unprivileged",
        nothing_reaches_the_next_run,
    );
}

fn own_mounts_of_a_command() {
    let sb = builder().build().expect("build");
    let d = tempfile::Builder::new()
        .prefix("runcell-template-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    std::fs::write(d.path().join("f"), "per-run").unwrap();
    // A Command's own bind (not in the template): the run builds its root from the host's.
    let o = sb
        .run(
            &Command::new("cat")
                .arg("/inputs/f")
                .ro_bind(d.path(), "/inputs"),
            b"",
        )
        .expect("run");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(stdout(&o), "per-run");
    assert_eq!(
        procs_at_proc(&sb, Command::new("cat").ro_bind(d.path(), "/inputs")),
        1
    );
    // And the runs without one go on from the template.
    let want = if is_root() { 2 } else { 1 };
    assert_eq!(procs_at_proc(&sb, Command::new("cat")), want);
    let o = sb
        .run(&Command::new("sh").arg("-c").arg("ls /inputs"), b"")
        .expect("run");
    assert_ne!(
        o.verdict,
        Verdict::Ok,
        "the earlier run's bind is still there"
    );
}

#[test]
fn own_mounts_of_a_command_as_root_and_unprivileged() {
    as_root_and_unprivileged(
        "own_mounts_of_a_command_as_root_and_unprivileged",
        own_mounts_of_a_command,
    );
}

fn replaced_source_is_seen() {
    let d = tempfile::Builder::new()
        .prefix("runcell-template-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), "first").unwrap();
    let sb = builder().ro_bind(&data, "/data").build().expect("build");
    let read = |sb: &Sandbox| {
        let o = sb
            .run(&Command::new("cat").arg("/data/f"), b"")
            .expect("run");
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(read(&sb), "first");
    // Replaced as a whole (the way a deployment swaps a directory): the next run binds the
    // new one, as it would without a template.
    let new = d.path().join("new");
    std::fs::create_dir(&new).unwrap();
    std::fs::write(new.join("f"), "second").unwrap();
    std::fs::rename(&data, d.path().join("old")).unwrap();
    std::fs::rename(&new, &data).unwrap();
    assert_eq!(read(&sb), "second");
    // Changed in place: seen as well (the bind is of the directory itself).
    std::fs::write(data.join("f"), "third").unwrap();
    assert_eq!(read(&sb), "third");
    assert!(Path::new(&d.path().join("old/f")).exists());
}

#[test]
fn replaced_source_is_seen_as_root_and_unprivileged() {
    as_root_and_unprivileged(
        "replaced_source_is_seen_as_root_and_unprivileged",
        replaced_source_is_seen,
    );
}

/// Root only: run `test` of this binary again in a mount namespace of its own whose `/` is
/// shared (as on a systemd host), with `RUNCELL_SHARED_ROOT_CHILD` set; true when this is that
/// re-run (the caller then runs the test's body), false after the re-run passed.
fn in_shared_root_namespace(test: &str) -> bool {
    if std::env::var_os("RUNCELL_SHARED_ROOT_CHILD").is_some() {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = info
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap();
        assert!(root.contains(" shared:"), "/ is not shared: {root}");
        return true;
    }
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "unchanged", "sh", "-c"])
        .arg(r#"mount --make-rshared / && exec "$0" --exact "$1" --nocapture --test-threads=1"#)
        .arg(std::env::current_exe().unwrap())
        .arg(test)
        .env("RUNCELL_SHARED_ROOT_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "re-run with a shared / failed:\n{text}"
    );
    assert!(text.contains("SHARED-DONE"), "{text}");
    false
}

/// The host's mount lines that mention `path`.
fn host_mounts_at(path: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(path))
        .map(String::from)
        .collect()
}

/// Root, on a host whose `/` is shared: a bind nested in another (attached on the first one's
/// copy) does not appear in the host's namespace, and a mount the host makes below a read-only
/// bind source after the template was made is not in a later run (nor, made mid-run, in a live
/// run built from the host's root): the bind sources are private copies.
#[test]
fn binds_do_not_propagate_to_or_from_a_shared_host_root() {
    if !is_root()
        || !in_shared_root_namespace("binds_do_not_propagate_to_or_from_a_shared_host_root")
    {
        return;
    }
    let base = format!("/tmp/runcell-prop-{}", std::process::id());
    for d in ["outer/inner", "outer/sub", "src2", "w"] {
        std::fs::create_dir_all(format!("{base}/{d}")).unwrap();
    }
    std::fs::write(format!("{base}/src2/marker"), "from-src2").unwrap();
    std::fs::set_permissions(
        format!("{base}/w"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let sb = builder()
        .ro_bind(format!("{base}/outer"), "/outer")
        .ro_bind(format!("{base}/src2"), "/outer/inner")
        .build()
        .unwrap();
    let o = sb
        .run(&Command::new("cat").arg("/outer/inner/marker"), b"")
        .unwrap();
    assert_eq!(stdout(&o), "from-src2", "{}", stderr(&o));
    let inner = format!("{base}/outer/inner");
    assert_eq!(host_mounts_at(&inner), Vec::<String>::new());
    assert!(!Path::new(&inner).join("marker").exists());

    // A host mount below the read-only source /outer, after the template was made.
    let sub = std::ffi::CString::new(format!("{base}/outer/sub")).unwrap();
    mount_tmpfs(&sub);
    std::fs::write(format!("{base}/outer/sub/host-file"), "x").unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .arg("-c")
                .arg("ls -A /outer/sub; echo pwned > /outer/sub/pwned"),
            b"",
        )
        .unwrap();
    assert!(!stdout(&o).contains("host-file"), "{}", stdout(&o));
    assert!(!Path::new(&format!("{base}/outer/sub/pwned")).exists());
    // SAFETY: NUL-terminated path.
    assert_eq!(unsafe { libc::umount2(sub.as_ptr(), libc::MNT_DETACH) }, 0);

    // A run built from the host's root (a read-write bind: no template), the host mounting
    // below its read-only source while it runs.
    let o = std::thread::scope(|s| {
        let run = s.spawn(|| {
            sb.run(
                &Command::new("sh")
                    .arg("-c")
                    .arg(
                        "touch /w/ready; until [ -e /outer/go ]; do sleep 0.01; done; \
                         ls -A /outer/sub",
                    )
                    .bind(format!("{base}/w"), "/w"),
                b"",
            )
        });
        wait_until("the run to start", || {
            Path::new(&format!("{base}/w/ready")).exists()
        });
        mount_tmpfs(&sub);
        std::fs::write(format!("{base}/outer/sub/host-file"), "x").unwrap();
        std::fs::write(format!("{base}/outer/go"), "").unwrap();
        run.join().unwrap().unwrap()
    });
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(!stdout(&o).contains("host-file"), "{}", stdout(&o));
    // SAFETY: NUL-terminated path.
    unsafe { libc::umount2(sub.as_ptr(), libc::MNT_DETACH) };
    drop(sb);
    let _ = std::fs::remove_dir_all(&base);
    println!("SHARED-DONE");
}

/// Root: run `test` of this binary again with `var` set in its environment (the caller then
/// runs the test's body in that process alone); true when this is that re-run.
fn rerun_alone(test: &str, var: &str) -> bool {
    if std::env::var_os(var).is_some() {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(var, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "re-run failed:\n{text}");
    assert!(text.contains("RERUN-DONE"), "{text}");
    false
}

/// Root: a host whose umask is 077 when the template is made still gets working runs (the
/// template's entries keep the plan's modes; they belong to host root, `nobody` in a run).
#[test]
fn a_strict_host_umask_does_not_close_the_template() {
    if !is_root()
        || !rerun_alone(
            "a_strict_host_umask_does_not_close_the_template",
            "RUNCELL_UMASK_CHILD",
        )
    {
        return;
    }
    // SAFETY: this re-run process runs this one test; umask cannot fail.
    unsafe { libc::umask(0o077) };
    let sb = builder().build().unwrap();
    for _ in 0..2 {
        let o = sb
            .run(
                &Command::new("python3")
                    .arg("-c")
                    .arg("print(open('/etc/passwd').read().count(':') > 0)"),
                b"",
            )
            .unwrap();
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "True", "{}", stderr(&o));
    }
    println!("RERUN-DONE");
}

/// Root: after runs from the template on every launcher thread (each then has a root, working
/// directory and umask of its own), the host changes directory and umask: a `Command`'s
/// relative bind source is resolved from the new directory, and the program gets the new
/// umask, on whichever launcher thread it starts.
#[test]
fn launcher_threads_follow_the_hosts_directory_and_umask() {
    if !is_root()
        || !rerun_alone(
            "launcher_threads_follow_the_hosts_directory_and_umask",
            "RUNCELL_CWD_CHILD",
        )
    {
        return;
    }
    let base = format!("/tmp/runcell-cwd-{}", std::process::id());
    for d in ["A", "B"] {
        std::fs::create_dir_all(format!("{base}/{d}/rel")).unwrap();
        std::fs::write(format!("{base}/{d}/rel/f"), d).unwrap();
    }
    std::env::set_current_dir(format!("{base}/A")).unwrap();
    let sb = builder().build().unwrap();
    let many = |cmd: &Command| -> Vec<String> {
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        (0..4)
                            .map(|_| {
                                let o = sb.run(cmd, b"").unwrap();
                                assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
                                stdout(&o)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        })
    };
    // Runs from the template, in parallel, so that every launcher thread joins it.
    let first = many(&Command::new("sh").arg("-c").arg("umask"));
    assert!(first.iter().all(|u| u.trim() == "0022"), "{first:?}");
    std::env::set_current_dir(format!("{base}/B")).unwrap();
    // SAFETY: this re-run process runs this one test; umask cannot fail.
    unsafe { libc::umask(0o027) };
    let seen = many(
        &Command::new("sh")
            .arg("-c")
            .arg("cat /d/f; echo \" $(umask)\"")
            .ro_bind("rel", "/d"),
    );
    // SAFETY: as above.
    unsafe { libc::umask(0o022) };
    drop(sb);
    let _ = std::fs::remove_dir_all(&base);
    assert!(seen.iter().all(|s| s.trim() == "B 0027"), "{seen:?}");
    println!("RERUN-DONE");
}
