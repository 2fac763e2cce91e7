//! Bad input gets a clear, typed error and leaves nothing behind.

mod common;
use std::time::Duration;

use common::*;
use runcell::{Command, Error, Profile, Sandbox};

#[test]
fn missing_program() {
    let sb = Sandbox::builder().build().unwrap();
    let e = sb
        .run(&Command::new("definitely-not-a-program"), b"")
        .unwrap_err();
    assert!(
        matches!(&e, Error::ProgramNotFound { program } if program == "definitely-not-a-program"),
        "{e}"
    );
    let e = sb
        .run(&Command::new("/usr/bin/definitely-not"), b"")
        .unwrap_err();
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e}");
    // A program that exists on the host but outside the sandbox's root is not found either.
    let e = sb.run(&Command::new("/root/anything"), b"").unwrap_err();
    assert!(matches!(e, Error::ProgramNotFound { .. }), "{e}");
}

#[test]
fn non_executable_file() {
    let sb = Sandbox::builder().build().unwrap();
    let e = sb.run(&Command::new("/etc/ld.so.cache"), b"").unwrap_err();
    assert!(matches!(e, Error::NotExecutable { .. }), "{e}");
    let e = sb.run(&Command::new("/usr"), b"").unwrap_err();
    assert!(matches!(e, Error::NotExecutable { .. }), "{e}");
    assert!(e.to_string().contains("/usr"));
}

#[test]
fn zero_and_absurd_limits() {
    let cases: Vec<(&str, runcell::SandboxBuilder)> = vec![
        ("wall time", Sandbox::builder().wall_time(Duration::ZERO)),
        ("CPU time", Sandbox::builder().cpu_time(Duration::ZERO)),
        ("memory", Sandbox::builder().memory(0)),
        ("memory", Sandbox::builder().memory(u64::MAX)),
        ("pids", Sandbox::builder().pids(0)),
        ("output limit", Sandbox::builder().output_limit(0)),
        ("output limit", Sandbox::builder().output_limit(u64::MAX)),
        ("file size", Sandbox::builder().file_size(0)),
        ("open files", Sandbox::builder().open_files(0)),
        ("tmp size", Sandbox::builder().tmp_size(0)),
        (
            "wall time",
            Sandbox::builder().wall_time(Duration::from_secs(u64::MAX / 4)),
        ),
    ];
    for (what, b) in cases {
        let e = b.build().unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e}");
        assert!(e.to_string().contains(what), "{what}: {e}");
    }
}

#[test]
fn bad_mounts_and_ids() {
    let e = Sandbox::builder()
        .ro_bind("/definitely/not/here", "/x")
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Path { path, .. } if path.ends_with("here")),
        "{e}"
    );
    for dst in ["relative", "/", "/a/../etc", "/proc/self", "/dev/sda"] {
        let e = Sandbox::builder().ro_bind("/usr", dst).build().unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{dst}: {e}");
    }
    let e = Sandbox::builder().ids(0, 0).build().unwrap_err();
    assert!(e.to_string().contains("must not be 0"), "{e}");
    let e = Sandbox::builder().host_ids(0, 0).build().unwrap_err();
    assert!(e.to_string().contains("host root"), "{e}");
    let e = Sandbox::builder()
        .workdir("relative/dir")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
    let e = Sandbox::builder().tmpfs("/scratch", 0).build().unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
}

#[test]
fn bad_commands() {
    let sb = Sandbox::builder().build().unwrap();
    let e = sb.run(&Command::new(""), b"").unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
    let e = sb.run(&Command::new("echo").arg("a\0b"), b"").unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");
    let e = sb
        .run(&Command::new("true").env("A=B", "c"), b"")
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e}");
    let e = sb
        .run(&Command::new("true").current_dir("/does/not/exist"), b"")
        .unwrap_err();
    assert!(matches!(e, Error::Setup { .. }), "{e}");
    assert!(e.to_string().contains("working directory"), "{e}");
}

#[test]
fn malformed_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("syntax.toml", "[limits\nwall_time = 1\n", "line 1"),
        (
            "key.toml",
            "hostname = \"x\"\nnetwork = \"wifi\"\n",
            "network",
        ),
        ("unknown.toml", "[limits]\nwall_tim = 3\n", "wall_tim"),
        ("zero.toml", "[limits]\nmemory = 0\n", "memory"),
        ("size.toml", "[limits]\nmemory = \"12Q\"\n", "limits.memory"),
        ("mount.toml", "[[mounts]]\ntype = \"ro-bind\"\n", "src"),
        (
            "extends.toml",
            "extends = \"no-such-profile\"\n",
            "no-such-profile",
        ),
    ];
    for (file, text, needle) in cases {
        let p = dir.path().join(file);
        std::fs::write(&p, text).unwrap();
        let e = Profile::load(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(file), "{file}: {msg}");
        assert!(msg.contains(needle), "{file}: {msg}");
    }
    let e = Profile::load(dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(e, Error::Path { .. }), "{e}");
    let e = Profile::named("no-such").unwrap_err();
    assert!(e.to_string().contains("built-in"), "{e}");
}

#[test]
fn errors_leave_nothing_behind() {
    let sb = Sandbox::builder().build().unwrap();
    sb.run(&Command::new("true"), b"").unwrap();
    // Other tests and other jobs create files in /tmp meanwhile: only runcell's own names
    // count.
    let tmp_before = runcell_tmp_entries();
    for _ in 0..20 {
        let _ = sb.run(&Command::new("nope"), b"");
        let _ = sb.run(&Command::new("/etc/ld.so.cache"), b"");
        let _ = Sandbox::builder().ro_bind("/nope", "/x").build();
    }
    let mut status = 0;
    // SAFETY: non-blocking waitpid on any child.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    assert!(r <= 0, "unreaped child");
    let tmp_after = runcell_tmp_entries();
    assert!(
        tmp_after.is_subset(&tmp_before),
        "left in /tmp: {:?}",
        tmp_after.difference(&tmp_before).collect::<Vec<_>>()
    );
    assert!(host_pids_with("ld.so.cache").is_empty());
}
