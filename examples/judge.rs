//! An online-judge loop: one prepared sandbox, many submissions judged concurrently against
//! test cases, each run getting its own fresh cell.
//!
//! `cargo run --release --example judge`

use std::time::Duration;

use runcell::{Command, Profile, Sandbox, Verdict};

struct Case {
    input: &'static str,
    expected: &'static str,
}

const CASES: &[Case] = &[
    Case {
        input: "1 2\n",
        expected: "3",
    },
    Case {
        input: "40 2\n",
        expected: "42",
    },
    Case {
        input: "-5 5\n",
        expected: "0",
    },
];

const SUBMISSIONS: &[(&str, &str)] = &[
    ("correct", "a, b = map(int, input().split())\nprint(a + b)"),
    ("wrong", "a, b = map(int, input().split())\nprint(a - b)"),
    ("too slow", "while True: pass"),
    ("crash", "raise SystemExit(3)"),
    ("chatty", "print('x' * 10_000_000)"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::builder()
        .profile(Profile::named("python")?)
        .wall_time(Duration::from_secs(2))
        .cpu_time(Duration::from_secs(1))
        .memory(128 << 20)
        .output_limit(64 << 10)
        .build()?;
    // The submission and the case's input both arrive on stdin, separated by a NUL byte; this
    // fixed wrapper splits them so the submission reads only its input.
    let cmd = Command::new("python3").arg("-c").arg(
        "import sys, io\nsrc, data = sys.stdin.read().split('\\0', 1)\n\
         sys.stdin = io.StringIO(data)\nexec(compile(src, 'submission', 'exec'))\n",
    );
    std::thread::scope(|s| {
        for (name, code) in SUBMISSIONS {
            let (sandbox, cmd) = (&sandbox, &cmd);
            s.spawn(move || {
                let mut verdict = "accepted".to_string();
                for (i, case) in CASES.iter().enumerate() {
                    let stdin = format!("{code}\0{}", case.input);
                    let run = sandbox.run(cmd, stdin.as_bytes());
                    let o = match run {
                        Ok(o) => o,
                        Err(e) => {
                            verdict = format!("judge error: {e}");
                            break;
                        }
                    };
                    match o.verdict {
                        Verdict::Ok
                            if String::from_utf8_lossy(&o.stdout).trim() == case.expected => {}
                        Verdict::Ok => {
                            verdict = format!("wrong answer on case {i}");
                            break;
                        }
                        v => {
                            verdict = format!("{v} on case {i}");
                            break;
                        }
                    }
                }
                println!("{name:10} {verdict}");
            });
        }
    });
    Ok(())
}
