//! What the program can and cannot see and do inside the default sandbox, checked by running
//! real programs.

mod common;
use common::*;
use runcell::Verdict;

#[test]
fn runs_as_unprivileged_ids_never_mapped_to_host_root() {
    let o = py(
        "import os\nprint(os.getuid(), os.getgid(), os.geteuid(), os.getgroups())\nprint(open('/proc/self/uid_map').read().split())\nprint(open('/proc/self/gid_map').read().split())",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1000 1000 1000 []"));
    let uid_map = lines.next().unwrap_or_default();
    let gid_map = lines.next().unwrap_or_default();
    // One id mapped; never host 0.
    assert!(uid_map.starts_with("['1000', '"), "{uid_map}");
    assert!(
        !uid_map.contains("'0', '1'") && !uid_map.contains("['0'"),
        "{uid_map}"
    );
    assert!(!gid_map.contains("['0'"), "{gid_map}");
    // As root: the uid (and the gid of the same number) this run leased from the default
    // range, which the outcome reports — never `nobody`, which the system shares. Otherwise the
    // host user itself.
    let (host_uid, host_gid) = (o.enforced.host_uid, o.enforced.host_gid);
    assert_eq!(uid_map, format!("['1000', '{host_uid}', '1']"));
    assert_eq!(gid_map, format!("['1000', '{host_gid}', '1']"));
    if is_root() {
        let range = runcell::HostIdRange::DEFAULT;
        assert!(
            (range.first()..=range.last()).contains(&host_uid),
            "{host_uid}"
        );
        assert_eq!(host_gid, host_uid);
        assert_eq!(o.enforced.host_id_range, Some(range));
    } else {
        // SAFETY: plain getters.
        let own = unsafe { (libc::geteuid(), libc::getegid()) };
        assert_eq!((host_uid, host_gid), own);
    }
}

#[test]
fn proc_shows_only_the_sandbox() {
    let o = py(
        "import os\npids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\nprint(pids)\nprint(os.getpid(), os.getppid())",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    // init (1) and the program (2), nothing of the host.
    assert_eq!(lines.next(), Some("[1, 2]"));
    assert_eq!(lines.next(), Some("2 1"));
}

#[test]
fn only_loopback_and_it_is_down() {
    // network = "none": lo stays down (the default's private loopback is up: tests/realprog.rs).
    let o = py_with(
        python_builder().network(runcell::Network::None),
        r#"
import socket, fcntl, struct
print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack('16sH', fcntl.ioctl(s, 0x8913, struct.pack('16sH', b'lo', 0)))[1]
print('up' if flags & 1 else 'down')
try:
    c = socket.create_connection(('1.1.1.1', 53), timeout=1)
    print('connected')
except OSError as e:
    print('no route', e.errno)
"#,
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines[0], "['lo']");
    assert_eq!(lines[1], "down");
    assert!(lines[2].starts_with("no route"), "{out}");
}

#[test]
fn host_files_that_are_not_bound_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary.txt");
    std::fs::write(&canary, "secret").unwrap();
    let code = format!(
        "import os\nfor p in [{:?}, '/etc/shadow', '/etc/hostname', '/root', '/home', '/var', '/sys', '/run', '/.oldroot']:\n    print(p, os.path.exists(p))",
        canary.display().to_string()
    );
    let o = py(&code);
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    for line in stdout(&o).lines() {
        assert!(line.ends_with(" False"), "visible in the sandbox: {line}");
    }
}

#[test]
fn read_only_binds_reject_writes_and_root_is_read_only() {
    let o = py(r#"
import errno
for p in ['/usr/runcell-test', '/runcell-test', '/etc/runcell-test', '/dev/runcell-test']:
    try:
        open(p, 'w').write('x')
        print(p, 'written')
    except OSError as e:
        print(p, errno.errorcode[e.errno])
"#);
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 4);
    for line in out.lines() {
        assert!(
            line.ends_with("EROFS") || line.ends_with("EACCES") || line.ends_with("EPERM"),
            "{line}"
        );
    }
}

#[test]
fn user_ro_bind_is_visible_read_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "hello").unwrap();
    // World-readable so that the sandbox's unprivileged host uid can read it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.path().join("in.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let o = py_with(
        python_builder().ro_bind(dir.path(), "/data"),
        "print(open('/data/in.txt').read())\ntry:\n    open('/data/new','w')\nexcept OSError as e:\n    print(e.errno)",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("hello\n{}\n", libc::EROFS));
    assert!(!dir.path().join("new").exists());
}

#[test]
fn tmp_is_writable_private_and_capped() {
    let o = py_with(
        python_builder().tmp_size(1 << 20),
        r#"
import errno
open('/tmp/a', 'w').write('ok')
print(open('/tmp/a').read())
try:
    with open('/tmp/big', 'wb') as f:
        f.write(b'x' * (4 << 20))
    print('not capped')
except OSError as e:
    print(errno.errorcode[e.errno])
"#,
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok\nENOSPC\n");
    // And it is private: a second run starts empty.
    let o = py("import os\nprint(os.listdir('/tmp'))");
    assert_eq!(stdout(&o), "[]\n");
}

#[test]
fn environment_is_only_the_profiles() {
    // SAFETY: set before any sandbox of this test runs; tests only read the environment.
    unsafe { std::env::set_var("RUNCELL_HOST_SECRET", "leak") };
    let o = py("import os\nprint(sorted(os.environ.items()))");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("RUNCELL_HOST_SECRET"), "{out}");
    assert!(out.contains("('HOME', '/tmp')"), "{out}");
    assert!(
        out.contains("('PATH', '/usr/local/bin:/usr/bin:/bin')"),
        "{out}"
    );
    assert!(out.contains("('LANG', 'C.UTF-8')"), "{out}");
    let o = sh("env | sort");
    let names: Vec<_> = stdout(&o)
        .lines()
        .map(|l| l.split('=').next().unwrap_or("").to_string())
        .collect();
    for n in &names {
        assert!(
            ["HOME", "LANG", "PATH", "PWD", "SHLVL", "_", "OLDPWD"].contains(&n.as_str()),
            "unexpected variable {n}"
        );
    }
}

#[test]
fn no_fd_beyond_stdio_is_inherited() {
    // A host fd without CLOEXEC must not reach the program.
    let f = std::fs::File::open("/proc/self/status").unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: clearing FD_CLOEXEC on an fd we own.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFD, 0) };
    let o = py("import os\nfds = sorted(int(x) for x in os.listdir('/proc/self/fd'))\nprint(fds)");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    // 3 is the directory listdir itself opened.
    assert_eq!(stdout(&o), "[0, 1, 2, 3]\n");
    drop(f);
}

#[test]
fn new_session_without_controlling_terminal() {
    let o = py(
        "import os\nprint(os.getsid(0), os.getpgrp())\ntry:\n    open('/dev/tty')\n    print('tty')\nexcept OSError:\n    print('no tty')",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    // The session was created by the sandbox's init (pid 1), not inherited from the host.
    // SAFETY: getsid(0) has no preconditions.
    let host_sid = unsafe { libc::getsid(0) };
    let out = stdout(&o);
    let sid: i32 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(sid, 1);
    assert_ne!(sid, host_sid);
    assert!(out.ends_with("no tty\n"), "{out}");
}

#[test]
fn hostname_is_fixed_and_host_unchanged() {
    let o = py("import socket\nprint(socket.gethostname())");
    assert_eq!(stdout(&o), "runcell\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "runcell");
}

#[test]
fn no_capabilities_and_no_new_privs() {
    let o = py(
        "for l in open('/proc/self/status'):\n    if l.startswith(('Cap', 'NoNewPrivs', 'Seccomp:')):\n        print(l.split()[0], l.split()[1])",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    for cap in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert!(out.contains(&format!("{cap} 0000000000000000")), "{out}");
    }
    assert!(out.contains("NoNewPrivs: 1"), "{out}");
    assert!(out.contains("Seccomp: 2"), "{out}");
}

#[test]
fn session_keyring_is_fresh() {
    // The host's session keyring (created if needed) holds a key; the sandbox (with seccomp
    // off, so keyctl itself is allowed) has a different session keyring and cannot see it.
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: keyctl with integer arguments.
    let host_ring = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            1,
        )
    };
    assert!(host_ring > 0, "host session keyring");
    // SAFETY: add_key with valid C strings and a payload buffer of the given length.
    let key = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c"user".as_ptr(),
            c"runcell-test-key".as_ptr(),
            b"secret".as_ptr(),
            6usize,
            KEY_SPEC_SESSION_KEYRING,
        )
    };
    assert!(key > 0, "add_key");
    let o = py_with(
        python_builder().seccomp("none"),
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.syscall(250, 0, -3, 0))\nprint('runcell-test-key' in open('/proc/keys').read())",
    );
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    let inner: i64 = lines.next().unwrap().trim().parse().unwrap();
    assert!(inner > 0, "sandbox has a session keyring: {out}");
    assert_ne!(
        inner, host_ring,
        "sandbox shares the host's session keyring"
    );
    assert_eq!(lines.next(), Some("False"));
}

#[test]
fn relative_program_resolves_inside_the_sandbox() {
    // `python3` on the host PATH may be a shim; inside it must be /usr/bin/python3.
    let o = py("import sys\nprint(sys.executable)");
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("/usr/"), "{}", stdout(&o));
}

#[test]
fn outcome_reports_what_was_enforced() {
    let o = py("pass");
    let e = &o.enforced;
    assert_eq!(
        e.namespaces,
        vec!["user", "pid", "mount", "network", "ipc", "uts", "cgroup"]
    );
    assert_eq!(e.seccomp, "default");
    assert_eq!(e.network, "loopback");
    if e.landlock.abi >= 1 {
        assert!(e.landlock.fs);
    }
    let json = o.report_json();
    for key in [
        "\"verdict\"",
        "\"exit_code\"",
        "\"signal\"",
        "\"wall_time_ms\"",
        "\"cpu_time_ms\"",
        "\"max_rss_kib\"",
        "\"stdout_bytes\"",
        "\"stderr_bytes\"",
        "\"stdout_truncated\"",
        "\"stderr_truncated\"",
        "\"enforced\"",
    ] {
        assert!(json.contains(key), "{key} missing in {json}");
    }
}
