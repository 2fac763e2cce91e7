//! Per-run job files: mounts carried by a `Command`, and the `Workspace` helper for the judge
//! pattern (write sources, compile in one sandbox, run in another, read outputs), as root and
//! unprivileged, from many threads, against a run that plants symlinks and set-id files.

mod common;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use runcell::{Command, Profile, Sandbox, Verdict, Workspace};

fn cpp() -> Sandbox {
    Sandbox::builder()
        .profile(Profile::named("cpp").unwrap())
        .wall_time(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn judge_roundtrip(sb: &Sandbox) {
    let ws = Workspace::new(sb).unwrap();
    ws.write(
        "src/main.cpp",
        b"#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}\n",
    )
    .unwrap();
    let c = ws
        .run(
            sb,
            Command::new("g++").args(["-O1", "-o", "main", "src/main.cpp"]),
            b"",
        )
        .unwrap();
    assert_eq!(c.verdict, Verdict::Ok, "compile: {}", stderr(&c));
    nothing_setid_or_root_owned(&ws);
    let r = ws
        .run(
            sb,
            Command::new("sh").args(["-c", "./main > out.txt"]),
            b"40 2\n",
        )
        .unwrap();
    assert_eq!(r.verdict, Verdict::Ok, "run: {}", stderr(&r));
    assert_eq!(ws.read("out.txt").unwrap(), b"42\n");
    nothing_setid_or_root_owned(&ws);
    if is_root() {
        // Two runs, two host uids: the run step still read what the compile step made and
        // wrote beside it.
        assert_ne!(c.enforced.host_uid, r.enforced.host_uid);
        use std::os::unix::fs::MetadataExt;
        let owner = |rel: &str| {
            std::fs::symlink_metadata(ws.path().join(rel))
                .unwrap()
                .uid()
        };
        assert_eq!(owner("main"), r.enforced.host_uid);
        assert_eq!(owner("out.txt"), r.enforced.host_uid);
    } else {
        assert_eq!(c.enforced.host_uid, r.enforced.host_uid);
    }
    // Everything the runs made can be removed by the host.
    let path = ws.path().to_path_buf();
    drop(ws);
    assert!(!path.exists(), "workspace left behind");
}

/// After a run: no set-user-ID or set-group-ID file, and nothing owned by host root but the
/// workspace directory itself (which the host takes back, mode 0700, between runs).
fn nothing_setid_or_root_owned(ws: &Workspace) {
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &std::path::Path, top: bool) {
        let md = std::fs::symlink_metadata(dir).unwrap();
        if top && is_root() {
            assert_eq!(
                (md.uid(), md.mode() & 0o7777),
                (0, 0o700),
                "{}",
                dir.display()
            );
        }
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if is_root() {
                assert_ne!(md.uid(), 0, "{} belongs to host root", p.display());
            }
            if !md.is_dir() {
                assert_eq!(md.mode() & 0o6000, 0, "{} is set-id", p.display());
            }
            if md.is_dir() {
                walk(&p, false);
            }
        }
    }
    walk(ws.path(), true);
}

#[test]
fn compile_then_run_over_one_workspace() {
    judge_roundtrip(&cpp());
}

#[test]
fn compile_then_run_as_an_unprivileged_host() {
    if std::env::var_os("RUNCELL_WS_UNPRIV").is_some() {
        // SAFETY: a single-threaded child test process (one test, --test-threads=1).
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
                assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
                assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
            }
            libc::prctl(libc::PR_SET_DUMPABLE, 1);
        }
        judge_roundtrip(&cpp());
        println!("WS-UNPRIV-OK");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "compile_then_run_as_an_unprivileged_host",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUNCELL_WS_UNPRIV", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("WS-UNPRIV-OK"),
        "{text}"
    );
}

#[test]
fn concurrent_jobs_never_see_each_others_files() {
    let sb = Sandbox::builder()
        .wall_time(Duration::from_secs(60))
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for i in 0..8 {
            let sb = &sb;
            s.spawn(move || {
                for j in 0..3 {
                    let ws = Workspace::new(sb).unwrap();
                    ws.write(&format!("job-{i}-{j}"), format!("{i}").as_bytes())
                        .unwrap();
                    let o = ws
                        .run(
                            sb,
                            Command::new("sh").args(["-c", "ls -A /work; echo made > mine"]),
                            b"",
                        )
                        .unwrap();
                    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
                    assert_eq!(stdout(&o), format!("job-{i}-{j}\n"));
                    assert_eq!(ws.read("mine").unwrap(), b"made\n");
                }
            });
        }
    });
}

#[test]
fn planted_symlinks_and_setid_files_do_not_reach_the_host() {
    let sb = Sandbox::builder().build().unwrap();
    let ws = Workspace::new(&sb).unwrap();
    // A host file the sandbox must not be able to make the host read or write.
    let canary_dir = tempfile::tempdir().unwrap();
    let canary = canary_dir.path().join("canary");
    std::fs::write(&canary, "host secret").unwrap();
    let script = format!(
        "ln -s {c} out.txt; ln -s {c} in.txt; mkdir d; ln -s {d} d/link; \
         cp /bin/true suid; chmod 4755 suid; chmod 2755 d; echo planted",
        c = canary.display(),
        d = canary_dir.path().display()
    );
    let o = ws
        .run(&sb, Command::new("sh").args(["-c", &script]), b"")
        .unwrap();
    assert_eq!(stdout(&o), "planted\n", "{}", stderr(&o));
    // Reading through the planted link fails instead of returning the host file.
    assert!(ws.read("out.txt").is_err());
    assert!(ws.read("d/link/canary").is_err());
    // Writing replaces the link instead of writing through it.
    ws.write("in.txt", b"input").unwrap();
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "host secret");
    assert_eq!(ws.read("in.txt").unwrap(), b"input");
    // No set-user-ID file survives the run.
    let mode = std::fs::metadata(ws.path().join("suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o6000, 0, "mode {mode:o}");
    // The next run takes the tree over: re-owning it follows none of the planted links.
    let again = ws
        .run(&sb, Command::new("sh").args(["-c", "ls -A"]), b"")
        .unwrap();
    assert_eq!(again.verdict, Verdict::Ok, "{}", stderr(&again));
    {
        use std::os::unix::fs::MetadataExt;
        let host = |p: &std::path::Path| std::fs::metadata(p).unwrap().uid();
        // SAFETY: plain getter.
        let me = unsafe { libc::geteuid() };
        assert_eq!(host(&canary), me, "the link's target changed owner");
        assert_eq!(
            host(canary_dir.path()),
            me,
            "the link's target changed owner"
        );
        let link = std::fs::symlink_metadata(ws.path().join("out.txt")).unwrap();
        assert_eq!(
            link.uid(),
            again.enforced.host_uid,
            "the link itself is the run's"
        );
    }
    // Nothing the run made belongs to host root: it belongs to the run's host uid.
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(ws.path().join("suid")).unwrap().uid();
    assert_eq!(owner, again.enforced.host_uid);
    if is_root() {
        assert_ne!(owner, 0);
    }
}

#[test]
fn per_run_binds_are_mounted_checked_and_reported() {
    let sb = Sandbox::builder().build().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("runcell-in-")
        .tempdir_in("/var/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("a.txt"), "input a").unwrap();
    std::fs::set_permissions(
        dir.path().join("a.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let o = sb
        .run(
            &Command::new("sh")
                .args(["-c", "cat /in/a.txt; echo x > /in/b 2>/dev/null || echo ro"])
                .ro_bind(dir.path(), "/in"),
            b"",
        )
        .unwrap();
    assert_eq!(stdout(&o), "input aro\n", "{}", stderr(&o));
    assert!(
        o.enforced.mounts.iter().any(|m| m.contains("/in")),
        "{:?}",
        o.enforced.mounts
    );
    // The next run without it does not have it: the Sandbox is unchanged.
    let o = sb
        .run(&Command::new("sh").args(["-c", "ls /in 2>&1 || true"]), b"")
        .unwrap();
    assert!(!stdout(&o).contains("a.txt"), "{}", stdout(&o));
    assert!(!o.enforced.mounts.iter().any(|m| m.contains("/in")));
    // A destination the sandbox already has is refused before anything runs.
    let err = sb
        .run(&Command::new("true").ro_bind(dir.path(), "/usr"), b"")
        .unwrap_err();
    assert!(err.to_string().contains("/usr"), "{err}");
}

/// While a run owns the workspace it may open it to everyone and plant a set-user-ID file of
/// its host uid; no other host user can reach that file meanwhile (the workspace sits in a
/// host-only 0700 directory that no run is ever given), and a tree too deep for the set-id walk
/// still goes back to the host.
#[test]
fn a_run_cannot_open_its_workspace_to_other_host_users() {
    use std::os::unix::fs::MetadataExt;
    let sb = Sandbox::builder().build().unwrap();
    let ws = Workspace::new(&sb).unwrap();
    let outer = ws.path().parent().unwrap().to_path_buf();
    let host_only = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap();
        // SAFETY: plain getter.
        (m.uid(), m.mode() & 0o777) == (unsafe { libc::geteuid() }, 0o700)
    };
    assert!(host_only(&outer));
    let ids = sb.lease_host_ids().unwrap();
    ws.hand_over(&ids).unwrap();
    let mut child = sb
        .spawn(
            &ws.command(Command::new("sh").args([
                "-c",
                "chmod 777 /work; cp /bin/true suid; chmod 4755 suid; echo planted; read x || true",
            ]))
            .host_ids(&ids),
        )
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "planted\n");
    // Mid-run: the run opened the workspace itself, not the directory that holds it.
    assert!(
        host_only(&outer),
        "the wrapper changed while the run held the workspace"
    );
    drop(child.stdin.take());
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    ws.clear_setid().unwrap();
    ws.take_back().unwrap();
    assert!(host_only(&outer));

    // A tree deeper than the set-id walk goes: the run still ends with the workspace back.
    let deep = ws.run(
        &sb,
        Command::new("sh").args([
            "-c",
            "p=.; for i in $(seq 80); do p=$p/d; done; mkdir -p $p && echo deep",
        ]),
        b"",
    );
    if is_root() {
        // The walk refuses the depth (an error), but only after the directory went back.
        let m = std::fs::metadata(ws.path()).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o700), "{deep:?}");
    }
    let dir = outer.clone();
    drop(ws);
    assert!(!dir.exists(), "the workspace and its wrapper are removed");
}
