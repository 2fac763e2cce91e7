//! The official Judge0 Python SDK against `runcell serve` (cli/tests/judge0_sdk.py). The SDK
//! is installed from PyPI into a venv by .ci/service-deps.sh, which exports
//! RUNCELL_TEST_PYTHON; without it this test fails (it never skips).

mod common;

#[test]
fn official_python_sdk_works_unchanged() {
    let python = std::env::var("RUNCELL_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "RUNCELL_TEST_PYTHON is not set: run `source .ci/service-deps.sh` first (it \
             installs the judge0 SDK in a venv)"
        )
    });
    let s = common::Server::start("workers = 2\n");
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
}
