//! `runcell analyze`: files, stdin and directories (DESIGN §5 plus the directory addition).

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
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn stdin_and_files_keep_the_contract() {
    let (code, out, _) = runcell(&["analyze", "--format", "json", "-"], b"print(1)\n");
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["files"][0]["path"], "-");
    assert_eq!(v["files"][0]["findings"].as_array().map(Vec::len), Some(0));
    let (code, out, _) = runcell(&["analyze", "-"], b"import os\nos.system('id')\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("-:2:1: error:"), "{out}");
    let (code, _, err) = runcell(&["analyze", "/nonexistent/x.py"], b"");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("runcell: cannot read /nonexistent/x.py"),
        "{err}"
    );
    let (code, _, _) = runcell(&["analyze"], b"");
    assert_eq!(code, 2);
}

#[test]
fn a_directory_is_one_submission() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    write(d, "main.py", "import helper\nhelper.run('id')\n");
    write(
        d,
        "helper.py",
        "import os\n\ndef run(c):\n    os.system(c)\n",
    );
    write(d, "pkg/__init__.py", "");
    write(d, "pkg/clean.py", "def f():\n    return 1\n");
    write(d, "notes.txt", "os.system('id')\n");
    let dir = d.to_str().expect("utf-8 path");
    let (code, out, err) = runcell(&["analyze", "--format", "json", dir], b"");
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let files = v["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    let want: Vec<String> = ["helper.py", "main.py", "pkg/__init__.py", "pkg/clean.py"]
        .iter()
        .map(|r| d.join(r).display().to_string())
        .collect();
    assert_eq!(paths, want);
    // The call in main.py is reported, with the sibling's line.
    let main = &files[1]["findings"];
    let f = main
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "process-exec"))
        .expect("process-exec in main.py");
    assert_eq!(f["line"], 2);
    assert!(
        f["message"]
            .as_str()
            .is_some_and(|m| m.contains("helper.py:4")),
        "{f}"
    );
    // A clean directory exits 0.
    let clean = tempfile::tempdir().expect("tempdir");
    write(clean.path(), "a.py", "print(1)\n");
    let (code, out, _) = runcell(&["analyze", clean.path().to_str().expect("utf-8")], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("a.py: ok\n"), "{out}");
}
