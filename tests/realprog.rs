//! Real programs run as they do bare (issue 15): each program runs in the shipped profiles and
//! bare as an unprivileged user (uid 65534, the fair baseline) and must produce the same result:
//! loopback TCP (asyncio on 127.0.0.1 and `localhost`, a C program connecting to itself),
//! multiprocessing (Pool, ProcessPoolExecutor, shared_memory), the user database (getpass, pwd,
//! Java's user.home, Node's os.userInfo), a pty with the devpts key, hello worlds under the
//! strict seccomp policy; and no sandbox's listener is reachable from another or from the host.
//! Needs the host toolchains: python3, gcc, java, node.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::*;
use runcell::{Command, Network, Outcome, Profile, Sandbox, SandboxBuilder, Verdict};

fn builder(profile: &str) -> SandboxBuilder {
    Sandbox::builder()
        .profile(Profile::named(profile).expect("profile"))
        .wall_time(Duration::from_secs(60))
}

fn run(b: SandboxBuilder, cmd: &Command, stdin: &[u8]) -> Outcome {
    b.build().expect("build").run(cmd, stdin).expect("run")
}

fn ok(o: &Outcome) -> String {
    assert_eq!(
        o.verdict,
        Verdict::Ok,
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Run `argv` bare, as uid/gid 65534 when the tests run as root, with a minimal environment;
/// returns stdout (and asserts success).
fn bare(argv: &[&str], stdin: &[u8]) -> String {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", dir.path())
        .env("LANG", "C.UTF-8")
        .env("TMPDIR", dir.path())
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn().expect("spawn bare");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "bare {argv:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same Python program in the python profile and bare: same output.
fn py_same(code: &str) -> String {
    let inside = ok(&run(
        builder("python"),
        &Command::new("python3").arg("-"),
        code.as_bytes(),
    ));
    let outside = bare(&["/usr/bin/python3", "-"], code.as_bytes());
    assert_eq!(inside, outside, "sandbox vs bare differ");
    inside
}

#[test]
fn asyncio_tcp_server_and_client_on_127_0_0_1_and_localhost() {
    let out = py_same(
        r#"
import asyncio
async def handle(r, w):
    w.write((await r.readline()).upper()); await w.drain(); w.close()
async def main(host):
    srv = await asyncio.start_server(handle, host, 0)
    port = srv.sockets[0].getsockname()[1]
    r, w = await asyncio.open_connection(host, port)
    w.write(b'ping\n'); await w.drain()
    print(host, (await r.readline()).decode().strip())
    w.close(); srv.close(); await srv.wait_closed()
for h in ['127.0.0.1', 'localhost']:
    asyncio.run(main(h))
"#,
    );
    assert_eq!(out, "127.0.0.1 PING\nlocalhost PING\n");
}

#[test]
fn multiprocessing_pool_executor_and_shared_memory() {
    let out = py_same(
        r#"
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory
def sq(x):
    return x * x
if __name__ == '__main__':
    with mp.Pool(2) as p:
        print('pool', sum(p.map(sq, range(100))))
    with ProcessPoolExecutor(2) as ex:
        print('executor', sum(ex.map(sq, range(100))))
    q = mp.Queue(); l = mp.Lock(); v = mp.Value('i', 7)
    with l:
        q.put(v.value)
    print('queue', q.get())
    sm = shared_memory.SharedMemory(create=True, size=16)
    sm.buf[:5] = b'hello'
    other = shared_memory.SharedMemory(name=sm.name)
    print('shm', bytes(other.buf[:5]).decode())
    other.close(); sm.close(); sm.unlink()
"#,
    );
    assert_eq!(out, "pool 328350\nexecutor 328350\nqueue 7\nshm hello\n");
}

#[test]
fn user_database_python_java_node() {
    // Python: getpass, pwd, Path.home() without HOME. Bare (uid 65534) the values are the
    // host's own; what must hold is that every lookup works, with the sandbox user inside.
    let code = r#"
import getpass, os, pwd, grp, pathlib
u = pwd.getpwuid(os.getuid())
print(getpass.getuser(), u.pw_name, u.pw_dir, grp.getgrgid(os.getgid()).gr_name)
del os.environ['HOME']
print(pathlib.Path.home())
"#;
    let inside = ok(&run(
        builder("python").env("HOME", "/home/me"),
        &Command::new("python3").arg("-"),
        code.as_bytes(),
    ));
    assert_eq!(inside, "sandbox sandbox /home/me sandbox\n/home/me\n");
    bare(&["/usr/bin/python3", "-"], code.as_bytes());
    // Without HOME in the profile the home is the working directory.
    let o = run(
        builder("python").env_clear().env("PATH", "/usr/bin"),
        &Command::new("python3")
            .arg("-c")
            .arg("import pathlib; print(pathlib.Path.home())"),
        b"",
    );
    assert_eq!(ok(&o), "/tmp\n");
    // whoami (coreutils, through NSS).
    assert_eq!(
        ok(&run(builder("default"), &Command::new("whoami"), b"")),
        "sandbox\n"
    );

    // Java: user.name and user.home (they were "?" without a passwd entry).
    let java = r#"
public class Main {
    public static void main(String[] a) throws Exception {
        System.out.println(System.getProperty("user.name") + " " + System.getProperty("user.home")
            + " " + java.net.InetAddress.getLocalHost().getHostName());
    }
}
"#;
    let o = run(
        builder("java"),
        &Command::new("sh")
            .arg("-c")
            .arg("cat > /tmp/Main.java && exec java /tmp/Main.java"),
        java.as_bytes(),
    );
    assert_eq!(ok(&o), "sandbox /tmp runcell\n");

    // Node: os.userInfo() and dns.lookup('localhost').
    let node = r#"
const os = require('os'), dns = require('dns');
const u = os.userInfo();
dns.lookup('localhost', {family: 4}, (e, addr) => console.log(u.username, u.homedir, e ? e.code : addr));
"#;
    let o = run(
        builder("node"),
        &Command::new("node").arg("-"),
        node.as_bytes(),
    );
    assert_eq!(ok(&o), "sandbox /tmp 127.0.0.1\n");
}

#[test]
fn a_pty_with_the_devpts_key_and_none_without() {
    let code = r#"
import os, errno
try:
    m, s = os.openpty()
    os.write(m, b'hi\n')
    print(os.ttyname(s), os.isatty(s), os.read(s, 3))
except OSError as e:
    print(errno.errorcode[e.errno])
"#;
    let with = ok(&run(
        builder("python").devpts(true),
        &Command::new("python3").arg("-"),
        code.as_bytes(),
    ));
    assert_eq!(with, "/dev/pts/0 True b'hi\\n'\n");
    let without = ok(&run(
        builder("python"),
        &Command::new("python3").arg("-"),
        code.as_bytes(),
    ));
    assert_eq!(without, "ENOENT\n");
    // Bare the same program gets a pty too (its number depends on the host).
    assert!(bare(&["/usr/bin/python3", "-"], code.as_bytes()).contains("True b'hi\\n'"));
}

#[test]
fn hello_worlds_and_user_lookups_under_strict() {
    let o = run(
        builder("python").seccomp("strict"),
        &Command::new("python3").arg("-"),
        b"import os, pwd, getpass\nprint('hello', pwd.getpwuid(os.getuid()).pw_name, getpass.getuser())",
    );
    assert_eq!(ok(&o), "hello sandbox sandbox\n");
    let java = r#"
public class Main {
    public static void main(String[] a) {
        System.out.println("hello " + System.getProperty("user.name"));
    }
}
"#;
    let o = run(
        builder("java").seccomp("strict"),
        &Command::new("sh")
            .arg("-c")
            .arg("cat > /tmp/Main.java && exec java /tmp/Main.java"),
        java.as_bytes(),
    );
    assert_eq!(ok(&o), "hello sandbox\n");
    // javac too, and the single-file source launcher (both probe AF_INET/AF_INET6 sockets).
    let o = run(
        builder("java").seccomp("strict"),
        &Command::new("sh")
            .arg("-c")
            .arg("cat > /tmp/Main.java && javac -d /tmp /tmp/Main.java && exec java -cp /tmp Main"),
        java.as_bytes(),
    );
    assert_eq!(ok(&o), "hello sandbox\n");
    // A TCP socket is refused; a netlink socket is still a violation under strict.
    let o = run(
        builder("python").seccomp("strict"),
        &Command::new("python3").arg("-"),
        b"import socket\ntry:\n socket.socket()\nexcept PermissionError: print('denied')",
    );
    assert_eq!(ok(&o), "denied\n");
    let o = run(
        builder("python").seccomp("strict"),
        &Command::new("python3").arg("-"),
        b"import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
    );
    assert_eq!(o.verdict, Verdict::SecurityViolation, "{}", stderr(&o));
}

const SELF_CONNECT_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a; memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &n)) { perror("listen"); return 1; }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a)) { perror("connect"); return 1; }
    int s = accept(l, 0, 0);
    char buf[8] = {0};
    if (write(c, "self", 4) != 4 || read(s, buf, 4) != 4) { perror("io"); return 1; }
    printf("%s\n", buf);
    return 0;
}
"#;

#[test]
fn a_c_program_binds_a_port_and_connects_to_itself() {
    let o = run(
        builder("c"),
        &Command::new("sh")
            .arg("-c")
            .arg("gcc -O1 -o /tmp/a.out -x c - && exec /tmp/a.out"),
        SELF_CONNECT_C.as_bytes(),
    );
    assert_eq!(ok(&o), "self\n");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("p.c");
    let exe = dir.path().join("p");
    std::fs::write(&src, SELF_CONNECT_C).unwrap();
    let st = std::process::Command::new("gcc")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    assert_eq!(bare(&[exe.to_str().unwrap()], b""), "self\n");
    // network = "none" keeps its meaning: no TCP at all.
    let o = run(
        builder("c").network(Network::None),
        &Command::new("sh")
            .arg("-c")
            .arg("gcc -O1 -o /tmp/a.out -x c - && exec /tmp/a.out"),
        SELF_CONNECT_C.as_bytes(),
    );
    assert_eq!(o.verdict, Verdict::ExitNonzero, "{}", stdout(&o));
}

#[test]
fn a_listener_in_one_sandbox_is_unreachable_from_another_and_from_the_host() {
    // A port that is free on the host right now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listener = builder("python").build().unwrap();
    let mut child = listener
        .spawn(&Command::new("python3").arg("-c").arg(format!(
            "import socket, sys\n\
             l = socket.socket(); l.bind(('127.0.0.1', {port})); l.listen()\n\
             print('listening', flush=True)\n\
             sys.stdin.read()\n"
        )))
        .expect("spawn listener");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "listening\n");
    // Another sandbox: its own loopback, where nobody listens on that port.
    let o = run(
        builder("python"),
        &Command::new("python3").arg("-c").arg(format!(
            "import socket, errno\n\
             try:\n    socket.create_connection(('127.0.0.1', {port}), 3); print('connected')\n\
             except OSError as e:\n    print(errno.errorcode[e.errno])\n"
        )),
        b"",
    );
    assert_eq!(ok(&o), "ECONNREFUSED\n");
    // The host.
    let e = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    drop(child.stdin.take());
    let o = child.wait().unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
}

#[test]
fn the_java_heap_follows_the_memory_limit() {
    let java = r#"
public class Main {
    public static void main(String[] a) {
        System.out.println(Runtime.getRuntime().maxMemory() >> 20);
    }
}
"#;
    let heap = |memory: u64| -> u64 {
        let o = run(
            builder("java").memory(memory),
            &Command::new("sh").arg("-c").arg(
                "cat > /tmp/Main.java && javac -d /tmp /tmp/Main.java && exec java -cp /tmp Main",
            ),
            java.as_bytes(),
        );
        ok(&o).trim().parse().expect("heap MiB")
    };
    // 25% of the limit (the JVM reports a little less than -Xmx: one survivor space).
    let big = heap(4 << 30);
    let small = heap(2 << 30);
    assert!((900..=1024).contains(&big), "{big}");
    assert!((450..=512).contains(&small), "{small}");
}
