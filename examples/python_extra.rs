//! What a sandboxed Python hello world pays beyond the sandbox's fixed cost, measured
//! interleaved: every round runs each variant once, in a rotating order, so that load drift
//! (other builds on a shared machine) hits all of them alike instead of one criterion group.
//!
//! For each variant it prints the wall time (median and 20%-trimmed mean) and the program's
//! own CPU time (user + system of the program's process: `getrusage(RUSAGE_CHILDREN)` around a
//! bare child, the outcome's `cpu_time` in the sandbox, which also counts the payload's last
//! steps before `execve`), then
//! `python extra = (sandbox python - bare python) - (sandbox true - bare true)`.
//!
//! The variants separate the suspects: the python profile running `/bin/true` (what the profile
//! itself adds to the root: the CA bind), the same without that bind, `/usr/bin/python3` by
//! absolute path (no PATH search inside), and python without seccomp or without landlock.
//!
//! ```text
//! cargo run --release --example python_extra -- [ROUNDS] [VARIANT,VARIANT,...]
//! chrt -f 10 target/release/examples/python_extra 200   # others' builds cannot preempt it
//! ```
//!
//! Run it as root for the full default sandbox (cgroups, host id lease).

use std::io::Write;
use std::process::{Command as StdCommand, Stdio};
use std::time::Instant;

use runcell::{Command, Profile, Sandbox};

/// User + system CPU of every reaped child so far, in milliseconds.
fn children_cpu_ms() -> f64 {
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given, RUSAGE_CHILDREN is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// fork + exec + wait of `program` (stdin from `stdin`, output discarded); its CPU time.
fn bare(program: &str, args: &[&str], stdin: Option<&[u8]>) -> f64 {
    let before = children_cpu_ms();
    let mut c = StdCommand::new(program);
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = c.spawn().expect("spawn");
    if let (Some(data), Some(mut s)) = (stdin, child.stdin.take()) {
        let _ = s.write_all(data);
    }
    assert!(child.wait().expect("wait").success());
    children_cpu_ms() - before
}

/// (median, 20%-trimmed mean) of `v`.
fn stats(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let cut = v.len() / 5;
    let kept = &v[cut..v.len() - cut];
    (v[v.len() / 2], kept.iter().sum::<f64>() / kept.len() as f64)
}

type Run<'a> = Box<dyn Fn() -> f64 + 'a>;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .max(1);
    let only: Option<String> = std::env::args().nth(2);
    let code = b"print('hello')\n";

    let python = Profile::named("python").expect("python profile");
    const CERTS: &str =
        "[[mounts]]\ntype = \"ro-bind\"\nsrc = \"/etc/ssl/certs\"\noptional = true\n";
    let source = runcell::profile::builtin_source("python").expect("python profile");
    assert!(
        source.contains(CERTS),
        "the python profile's CA bind changed"
    );
    let python_no_certs =
        Profile::from_toml_str(&source.replace(CERTS, ""), "python-no-certs").expect("profile");

    let sb_true = Sandbox::builder().build().expect("sandbox");
    let sb_py = Sandbox::builder()
        .profile(python.clone())
        .build()
        .expect("sandbox");
    let sb_py_no_certs = Sandbox::builder()
        .profile(python_no_certs)
        .build()
        .expect("sandbox");
    let sb_py_no_seccomp = Sandbox::builder()
        .profile(python.clone())
        .seccomp("none")
        .build()
        .expect("sandbox");
    let sb_py_no_landlock = Sandbox::builder()
        .profile(python)
        .without_landlock()
        .build()
        .expect("sandbox");
    let t = Command::new("/bin/true");
    let hello = Command::new("python3").arg("-");
    let hello_abs = Command::new("/usr/bin/python3").arg("-");
    let cpu_ms = |o: runcell::Outcome| o.cpu_time.as_secs_f64() * 1e3;
    let py = |sb: &Sandbox, cmd: &Command| {
        let o = sb.run(cmd, code).expect("run");
        assert_eq!(o.stdout, b"hello\n");
        cpu_ms(o)
    };

    let mut variants: Vec<(&str, Run)> = vec![
        ("bare_true", Box::new(|| bare("/bin/true", &[], None))),
        (
            "bare_python",
            Box::new(|| bare("/usr/bin/python3", &["-"], Some(code))),
        ),
        (
            "sandbox_true",
            Box::new(|| cpu_ms(sb_true.run(&t, b"").expect("run"))),
        ),
        (
            "sandbox_true_python_profile",
            Box::new(|| cpu_ms(sb_py.run(&t, b"").expect("run"))),
        ),
        (
            "sandbox_true_python_no_certs",
            Box::new(|| cpu_ms(sb_py_no_certs.run(&t, b"").expect("run"))),
        ),
        ("sandbox_python", Box::new(|| py(&sb_py, &hello))),
        ("sandbox_python_abs", Box::new(|| py(&sb_py, &hello_abs))),
        (
            "sandbox_python_no_seccomp",
            Box::new(|| py(&sb_py_no_seccomp, &hello)),
        ),
        (
            "sandbox_python_no_landlock",
            Box::new(|| py(&sb_py_no_landlock, &hello)),
        ),
    ];
    if let Some(o) = &only {
        variants.retain(|(n, _)| o.split(',').any(|x| x == *n));
    }
    for (_, f) in &variants {
        for _ in 0..3 {
            f();
        }
    }
    let n = variants.len();
    let mut wall = vec![Vec::with_capacity(rounds); n];
    let mut cpu = vec![Vec::with_capacity(rounds); n];
    for r in 0..rounds {
        for k in 0..n {
            let i = (r + k) % n;
            let t0 = Instant::now();
            let c = (variants[i].1)();
            wall[i].push(t0.elapsed().as_secs_f64() * 1e3);
            cpu[i].push(c);
        }
    }
    let mut by_name = std::collections::HashMap::new();
    for (i, (name, _)) in variants.iter().enumerate() {
        let (wm, wt) = stats(&mut wall[i]);
        let (cm, ct) = stats(&mut cpu[i]);
        println!(
            "{name:30} wall median {wm:7.3} trimmed {wt:7.3} ms | program cpu median {cm:7.3} trimmed {ct:7.3} ms"
        );
        by_name.insert(*name, [wm, wt, cm, ct]);
    }
    if let (Some(bt), Some(bp), Some(st), Some(sp)) = (
        by_name.get("bare_true"),
        by_name.get("bare_python"),
        by_name.get("sandbox_true"),
        by_name.get("sandbox_python"),
    ) {
        let extra = |i: usize| (sp[i] - bp[i]) - (st[i] - bt[i]);
        println!(
            "sandbox over bare: /bin/true +{:.3} ms wall, python +{:.3} ms wall (medians); \
             python extra {:.3} / {:.3} ms wall, {:.3} / {:.3} ms program cpu (median / trimmed)",
            st[0] - bt[0],
            sp[0] - bp[0],
            extra(0),
            extra(1),
            extra(2),
            extra(3)
        );
    }
}
