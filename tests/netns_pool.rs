//! Network namespaces made ahead of time for a root host's runs (src/sandbox/netns.rs): each
//! is private to one run, belongs to the host's user namespace (so nothing in the sandbox can
//! configure it), has loopback exactly as the profile asks, and the threads that join one for
//! a clone go back to the host's namespace. An unprivileged host never uses the pool.

mod common;

use std::io::{BufRead, BufReader};

use common::*;
use runcell::{Command, Network, Outcome, Verdict};

/// Prints what a run sees of its network namespace: its inode, who owns it (`own`: the
/// sandbox's user namespace; an errno name: a namespace outside its reach), lo's state, and
/// what configuring it gives.
const PROBE: &str = r#"
import os, socket, fcntl, struct, errno
print('ino', os.stat('/proc/self/ns/net').st_ino)
fd = os.open('/proc/self/ns/net', os.O_RDONLY)
try:
    fcntl.ioctl(fd, 0xb701)  # NS_GET_USERNS
    print('owner own')
except OSError as e:
    print('owner', errno.errorcode[e.errno])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
req = struct.pack('16sH', b'lo', 0)
flags = struct.unpack('16sH', fcntl.ioctl(s, 0x8913, req))[1]
print('lo', 'up' if flags & 1 else 'down')
def attempt(name, f):
    try:
        f()
        print(name, 'done')
    except OSError as e:
        print(name, errno.errorcode[e.errno])
attempt('flags', lambda: fcntl.ioctl(s, 0x8914, struct.pack('16sH', b'lo', flags ^ 1)))
addr = struct.pack('16sH2s4s8s', b'lo', socket.AF_INET, b'\0\0', socket.inet_aton('10.9.8.7'), b'')
attempt('addr', lambda: fcntl.ioctl(s, 0x8916, addr))
attempt('sysctl', lambda: open('/proc/sys/net/ipv4/ip_forward', 'w').write('1'))
if flags & 1:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', 0))
    u.sendto(b'ping', u.getsockname())
    print('echo', u.recv(4).decode())
"#;

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

/// Runs of `network` until one ran in a pooled namespace (the first runs may find none
/// ready); its output.
fn pooled_run(network: Network) -> String {
    let sb = python_builder().network(network).build().expect("build");
    let cmd = Command::new("python3").arg("-");
    let mut out = String::new();
    wait_until("a run in a pooled network namespace", || {
        let o: Outcome = sb.run(&cmd, PROBE.as_bytes()).expect("run");
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        out = stdout(&o);
        field(&out, "owner") != "own"
    });
    out
}

fn host_netns() -> u64 {
    std::os::unix::fs::MetadataExt::ino(&std::fs::metadata("/proc/self/ns/net").expect("ns"))
}

#[test]
fn pooled_namespace_is_out_of_the_sandboxs_reach_with_loopback_up() {
    if !is_root() {
        eprintln!("skipped: the pool is for root hosts");
        return;
    }
    let out = pooled_run(Network::Loopback);
    // Owned by the host's user namespace, an ancestor of the sandbox's: out of its scope.
    assert_eq!(field(&out, "owner"), "EPERM", "{out}");
    assert_ne!(field(&out, "ino"), host_netns().to_string(), "{out}");
    assert_eq!(field(&out, "lo"), "up", "{out}");
    assert_eq!(field(&out, "flags"), "EPERM", "{out}");
    assert_eq!(field(&out, "addr"), "EPERM", "{out}");
    assert_ne!(field(&out, "sysctl"), "done", "{out}");
    // Its own loopback works.
    assert_eq!(field(&out, "echo"), "ping", "{out}");
}

#[test]
fn pooled_namespace_without_loopback_keeps_it_down() {
    if !is_root() {
        eprintln!("skipped: the pool is for root hosts");
        return;
    }
    let out = pooled_run(Network::None);
    assert_eq!(field(&out, "owner"), "EPERM", "{out}");
    assert_eq!(field(&out, "lo"), "down", "{out}");
    assert_eq!(field(&out, "flags"), "EPERM", "{out}");
}

#[test]
fn pool_off_or_unprivileged_the_sandbox_makes_its_own() {
    // The sandbox's own user namespace owns the namespace its clone made.
    own_namespace_every_run(python_builder().network_namespace_pool(false), 0);
    // A single-run sandbox (the CLI's) does not use the pool either; a root host's build()
    // makes its first run's namespace ahead, on a thread of its own (the host's user
    // namespace owns it, as a pooled one), and later runs make their own.
    own_namespace_every_run(python_builder().single_run(true), usize::from(is_root()));
    // Asked not to, it makes none ahead.
    own_namespace_every_run(
        python_builder()
            .single_run(true)
            .network_namespace_pool(false),
        0,
    );
    if !is_root() {
        let out = stdout(&py(PROBE));
        assert_eq!(field(&out, "owner"), "own", "{out}");
    }
}

/// Three runs of `b`'s sandbox: the first `ahead` of them in a namespace made before the run
/// (out of the sandbox's reach), the others in one their clone made.
fn own_namespace_every_run(b: runcell::SandboxBuilder, ahead: usize) {
    let sb = b.build().expect("build");
    let host = host_netns().to_string();
    for i in 0..3 {
        let o = sb
            .run(&Command::new("python3").arg("-"), PROBE.as_bytes())
            .expect("run");
        assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
        let out = stdout(&o);
        let owner = if i < ahead { "EPERM" } else { "own" };
        assert_eq!(field(&out, "owner"), owner, "run {i}: {out}");
        assert_ne!(field(&out, "ino"), host, "{out}");
        assert_eq!(field(&out, "lo"), "up", "{out}");
        // The program holds no capability there either.
        assert_eq!(field(&out, "flags"), "EPERM", "{out}");
    }
}

#[test]
fn concurrent_runs_never_share_a_namespace_and_launchers_go_home() {
    let sb = builder()
        .wall_time(BACKSTOP_WALL_TIME)
        .build()
        .expect("build");
    let host = host_netns().to_string();
    // Warm the pool, then hold 12 sandboxes at once: every live namespace is a distinct one.
    for _ in 0..3 {
        sb.run(&Command::new("/bin/true"), b"").expect("run");
    }
    let cmd = Command::new("sh")
        .arg("-c")
        .arg("stat -L -c %i /proc/self/ns/net; exec cat");
    let mut children = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let mut child = sb.spawn(&cmd).expect("spawn");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        let ino = line.trim().to_string();
        assert!(!ino.is_empty());
        assert_ne!(ino, host, "a sandbox in the host's network namespace");
        assert!(
            seen.insert(ino.clone()),
            "namespace {ino} shared by two runs"
        );
        children.push(child);
    }
    for child in children {
        let o = child.wait().expect("wait");
        assert_eq!(o.verdict, Verdict::Ok);
    }
    // Every launcher thread is back in the host's namespace.
    let mut launchers = 0;
    for t in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == "runcell-launch" {
            launchers += 1;
            let ns = std::fs::metadata(t.path().join("ns/net")).expect("thread ns");
            assert_eq!(
                std::os::unix::fs::MetadataExt::ino(&ns).to_string(),
                host,
                "launcher thread {:?} left in another network namespace",
                t.file_name()
            );
        }
    }
    assert!(launchers > 0, "no launcher thread found");
}
