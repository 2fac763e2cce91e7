//! The official Judge0 Python SDK against `runcell serve` (cli/tests/judge0_sdk.py). The SDK
//! is installed from PyPI into a venv by .ci/service-deps.sh, which exports
//! RUNCELL_TEST_PYTHON; without it this test fails (it never skips).

mod common;

#[test]
fn official_python_sdk_works_unchanged() {
    sdk_checks("workers = 2\n");
}

/// The same checks with Python submissions run in preloaded warm cells: the SDK sees the
/// same answers (its Python checks include stdout, stderr, tracebacks, exit codes, limits).
#[test]
fn official_python_sdk_works_unchanged_with_warm_cells() {
    let s = sdk_checks("workers = 2\nwarm_python = 2\n");
    let (code, body) = common::request(&s.addr, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body);
    // Runs in a ready cell or one set up on the spot (none ready): both are warm-cell runs.
    let warm: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("runcell_warm_runs_total{cell="))
        .filter_map(|l| l.split_once("} "))
        .map(|(_, v)| v.trim().parse::<u64>().expect("counter"))
        .sum();
    assert!(warm > 0, "no submission ran in a warm cell:\n{text}");
}

fn sdk_checks(toml: &str) -> common::Server {
    let python = std::env::var("RUNCELL_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "RUNCELL_TEST_PYTHON is not set: run `source .ci/service-deps.sh` first (it \
             installs the judge0 SDK in a venv)"
        )
    });
    let s = common::Server::start(toml);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/judge0_sdk.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(format!("http://{}", s.addr))
        .output()
        .expect("run the SDK test script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "SDK script failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    s
}
