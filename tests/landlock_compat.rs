//! Landlock on the running kernel's ABI: what the kernel lacks is reported as not enforced,
//! refused when the profile requires it (unless best effort was asked for), and what the report
//! says is what a program inside meets. tests/qemu runs these on Linux 6.1 (ABI 2: file-system
//! rules only) and 6.12 (ABI 6: TCP rules and scopes too); the host has ABI 7.

mod common;

use common::*;
use runcell::sandbox::LandlockRequire;
use runcell::{Command, Error, Network};

/// The landlock ABI of the running kernel, asked directly (0: no landlock).
fn kernel_abi() -> i32 {
    // SAFETY: with a NULL attribute, size 0 and LANDLOCK_CREATE_RULESET_VERSION (1) the call
    // only returns the ABI version; it reads no memory and creates nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if r < 0 { 0 } else { r as i32 }
}

/// The default builder with the network off: TCP rules exist only then (the default private
/// loopback leaves TCP to the program).
fn nonet() -> runcell::SandboxBuilder {
    builder().network(Network::None)
}

#[test]
fn the_report_follows_the_kernel_abi() {
    let abi = kernel_abi();
    eprintln!("landlock ABI {abi}");
    assert!(abi >= 1, "these tests need landlock (kernel ABI {abi})");
    let sb = nonet().build().unwrap();
    let l = &sb.enforced().landlock;
    assert_eq!(l.abi, abi);
    assert!(l.fs);
    assert_eq!(l.net, abi >= 4, "TCP rules exist from ABI 4: {l:?}");
    assert_eq!(l.scope, abi >= 6, "scopes exist from ABI 6: {l:?}");
    // With a (loopback) network TCP is the program's to use: never reported as restricted.
    let sb = builder().network(Network::Loopback).build().unwrap();
    assert!(!sb.enforced().landlock.net);
}

#[test]
fn required_features_the_kernel_lacks_are_refused() {
    let abi = kernel_abi();
    let net = LandlockRequire {
        fs: true,
        net: true,
        scope: false,
    };
    let scope = LandlockRequire {
        fs: true,
        net: false,
        scope: true,
    };
    for (req, needed, what) in [(net, 4, "TCP rules"), (scope, 6, "scopes")] {
        match nonet().landlock_require(req).build() {
            Ok(sb) => {
                assert!(
                    abi >= needed,
                    "{what} required on ABI {abi} and not refused"
                );
                let l = &sb.enforced().landlock;
                assert!(if needed == 4 { l.net } else { l.scope }, "{l:?}");
            }
            Err(e) => {
                assert!(abi < needed, "{what} refused on ABI {abi}: {e}");
                assert!(matches!(e, Error::Unsupported { .. }), "{e}");
                let msg = e.to_string();
                assert!(msg.contains("landlock") && msg.contains(what), "{msg}");
                assert!(msg.contains(&format!("ABI {needed}")), "{msg}");
            }
        }
        // Best effort: builds everywhere and reports what really is enforced.
        let sb = nonet()
            .landlock_require(req)
            .landlock_best_effort(true)
            .build()
            .unwrap();
        let l = &sb.enforced().landlock;
        assert_eq!(if needed == 4 { l.net } else { l.scope }, abi >= needed);
        let o = sb.run(&Command::new("true"), b"").unwrap();
        assert_eq!(o.enforced.landlock, *l);
    }
}

#[test]
fn what_is_reported_is_what_the_program_meets() {
    let code = r#"
import errno, os, socket
def R(k, f):
    try:
        f()
        print(k + '=OK')
    except OSError as e:
        print(k + '=' + errno.errorcode[e.errno])
R('bind', lambda: socket.socket().bind(('127.0.0.1', 0)))
R('kill_init', lambda: os.kill(1, 0))
R('write_proc', lambda: open('/proc/self/comm', 'w').write('x'))
"#;
    let o = py(code);
    let out = stdout(&o);
    assert_eq!(o.verdict, runcell::Verdict::Ok, "{out}{}", stderr(&o));
    let l = &o.enforced.landlock;
    let want = |on: bool, denied: &str| if on { denied.to_string() } else { "OK".into() };
    // The empty network namespace's lo (down) accepts a bind; only landlock's TCP rule denies.
    assert!(
        out.contains(&format!("bind={}", want(l.net, "EACCES"))),
        "{l:?}\n{out}"
    );
    // init runs with the program's uid: only the signal scope stops signal 0.
    assert!(
        out.contains(&format!("kill_init={}", want(l.scope, "EPERM"))),
        "{l:?}\n{out}"
    );
    // The program's own /proc files are writable by it; landlock grants only reading there.
    assert!(
        out.contains(&format!("write_proc={}", want(l.fs, "EACCES"))),
        "{l:?}\n{out}"
    );
}
