//! Nothing of the host inside: a secret in the host's environment and heap must not be
//! readable from the sandbox through any /proc entry (environ, cmdline, mem of every process it
//! can see), with landlock on and off, for a root host, an unprivileged dumpable host and an
//! unprivileged non-dumpable host (the three launch paths).

mod common;
use common::*;
use runcell::{Command, Profile, Sandbox, Verdict};

const CHILD: &str = "RUNCELL_SECRET_CHILD";
const SECRET_ENV: &str = "RUNCELL_HOST_SECRET";

/// Scans every process it can see (but itself) for the secret; prints what it could read.
const SCAN: &str = r#"
import os
secret = bytes.fromhex(HEX)
found, read_mem = [], 0
for pid in os.listdir('/proc'):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    for f in ('environ', 'cmdline', 'comm', 'maps', 'stat', 'status'):
        try:
            if secret in open(f'/proc/{pid}/{f}', 'rb').read():
                found.append(f'{pid}/{f}')
        except OSError:
            pass
    try:
        maps = open(f'/proc/{pid}/maps').read().splitlines()
        with open(f'/proc/{pid}/mem', 'rb', buffering=0) as m:
            for line in maps:
                rng, perms = line.split()[:2]
                a, b = (int(x, 16) for x in rng.split('-'))
                if 'r' not in perms:
                    continue
                try:
                    m.seek(a)
                    data = m.read(b - a)
                    read_mem += len(data)
                    if secret in data:
                        found.append(f'{pid}/mem')
                except OSError:
                    pass
    except OSError:
        pass
print('RESULT', 'FOUND' if found else 'CLEAN', ','.join(found) or '-', read_mem)
"#;

fn scan(landlock: bool, secret: &str) -> (String, u64) {
    let mut b = Sandbox::builder()
        .profile(Profile::named("python").unwrap())
        .seccomp("none");
    if !landlock {
        b = b.without_landlock();
    }
    let sb = b.build().unwrap();
    let hex: String = secret.bytes().map(|c| format!("{c:02x}")).collect();
    let code = SCAN.replace("HEX", &format!("'{hex}'"));
    let o = sb
        .run(&Command::new("python3").arg("-"), code.as_bytes())
        .unwrap();
    assert_eq!(o.verdict, Verdict::Ok, "{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("{out}"));
    let parts: Vec<&str> = line.split_whitespace().collect();
    (
        format!("{} {}", parts[1], parts[2]),
        parts[3].parse().unwrap(),
    )
}

fn child(mode: &str) {
    let secret = std::env::var(SECRET_ENV).unwrap();
    match mode {
        "root" => assert!(is_root()),
        "unpriv" | "unpriv-nondumpable" => {
            if is_root() {
                // SAFETY: a single-threaded child test process (one test, --test-threads=1).
                unsafe {
                    assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
                    assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
                    assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
                }
            }
            // The id change made us non-dumpable; a normal unprivileged process is dumpable.
            let dumpable = if mode == "unpriv" { 1 } else { 0 };
            // SAFETY: prctl with integer arguments.
            assert_eq!(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, dumpable) }, 0);
        }
        other => panic!("mode {other}"),
    }
    // The secret in the heap too, many times over (a host with a big heap).
    let heap: Vec<u8> = secret.as_bytes().repeat((8 << 20) / secret.len());
    for landlock in [true, false] {
        let (verdict, read_mem) = scan(landlock, &secret);
        println!("{mode} landlock={landlock}: {verdict} read {read_mem} bytes of other processes");
        assert_eq!(verdict, "CLEAN -", "{mode} landlock={landlock}");
        if !landlock {
            // Without landlock init's memory is readable (it is the sandbox's own tiny
            // runcell-init): the scan really looked, and found nothing of the host there.
            assert!(read_mem > 0, "{mode}: the scan read nothing");
        }
    }
    std::hint::black_box(&heap);
    println!("SECRETS-OK {mode}");
}

#[test]
fn no_host_secret_is_readable_from_inside() {
    if let Ok(mode) = std::env::var(CHILD) {
        return child(&mode);
    }
    let modes: &[&str] = if is_root() {
        &["root", "unpriv", "unpriv-nondumpable"]
    } else {
        &["unpriv", "unpriv-nondumpable"]
    };
    for mode in modes {
        let secret = format!("host-secret-{}-{}", std::process::id(), mode.len() * 7919);
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "no_host_secret_is_readable_from_inside",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, mode)
            .env(SECRET_ENV, &secret)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {text}");
        assert!(text.contains(&format!("SECRETS-OK {mode}")), "{text}");
    }
}
