//! The `runcell` command line: the contract of DESIGN §5.

use std::io::Write;
use std::process::{Command, Stdio};

fn runcell(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runcell");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn python_snippet_on_stdin_with_default_profile() {
    let (code, out, err) = runcell(&["run", "--", "python3", "-"], b"print(6 * 7)\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "42\n");
}

#[test]
fn exit_status_contract() {
    let (code, _, _) = runcell(&["run", "--", "sh", "-c", "exit 7"], b"");
    assert_eq!(code, 7);
    let (code, _, _) = runcell(&["run", "--", "sh", "-c", "kill -TERM $$"], b"");
    assert_eq!(code, 128 + 15);
    let (code, _, err) = runcell(&["run", "--", "no-such-program"], b"");
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = runcell(&["run", "--bogus-flag", "--", "true"], b"");
    assert_eq!(code, 125, "{err}");
    let (code, _, err) = runcell(&["run", "--memory", "0", "--", "true"], b"");
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = runcell(
        &["run", "--profile", "/nonexistent.toml", "--", "true"],
        b"",
    );
    assert_eq!(code, 125, "{err}");
}

#[test]
fn report_json_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (code, _, _) = runcell(
        &[
            "run",
            "--wall-time",
            "0.3",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sleep",
            "5",
        ],
        b"",
    );
    assert_eq!(code, 137);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["verdict"], "wall_time_limit");
    assert_eq!(v["signal"], 9);
    assert!(v["exit_code"].is_null());
    for k in [
        "wall_time_ms",
        "cpu_time_ms",
        "max_rss_kib",
        "stdout_bytes",
        "stderr_bytes",
        "stdout_truncated",
        "stderr_truncated",
        "enforced",
    ] {
        assert!(!v[k].is_null(), "{k}");
    }
    assert_eq!(v["enforced"]["seccomp"], "default");
    // Setup errors are reported too, to stderr with `-`.
    let (code, _, err) = runcell(&["run", "--report", "-", "--", "nope"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("\"setup_error\""), "{err}");
}

#[test]
fn run_options() {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("f.txt"), "data").unwrap();
    std::fs::set_permissions(
        dir.path().join("f.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let ro = format!("{}:/in", dir.path().display());
    let (code, out, err) = runcell(
        &[
            "run",
            "--ro-bind",
            &ro,
            "--tmpfs",
            "/scratch:1M",
            "--env",
            "GREETING=hi",
            "--workdir",
            "/work",
            "--",
            "sh",
            "-c",
            "cat /in/f.txt; echo; echo $GREETING; pwd; touch /scratch/x && echo scratch-ok; touch ./y && echo work-ok",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "data\nhi\n/work\nscratch-ok\nwork-ok\n");
    let (code, out, _) = runcell(
        &[
            "run",
            "--output-limit",
            "10",
            "--",
            "yes",
            "0123456789abcdef",
        ],
        b"",
    );
    // A program that keeps writing is killed at the cap (one that already exited is not).
    assert_eq!(code, 128 + 9);
    assert_eq!(out, "0123456789");
    let (code, out, err) = runcell(
        &["run", "--network", "loopback", "--profile", "python", "--", "python3", "-"],
        b"import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nc = socket.create_connection(s.getsockname())\nprint('loopback ok')\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "loopback ok\n");
}

#[test]
fn stdin_is_passed_through_and_large() {
    let input = vec![b'a'; 3 << 20];
    let (code, out, _) = runcell(&["run", "--output-limit", "4M", "--", "wc", "-c"], &input);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), (3 << 20).to_string());
}
