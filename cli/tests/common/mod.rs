//! Helpers for the service tests: start `runcell serve`/`runcell worker` as child processes
//! on a free loopback port, and a minimal HTTP/1.1 client (one request per connection).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_runcell");

/// A running `runcell serve`; stopped with SIGTERM (graceful) on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
    pub work_dir: PathBuf,
}

/// Write a config file into `dir`.
pub fn config(dir: &Path, toml: &str) -> PathBuf {
    let p = dir.join("runcell.toml");
    std::fs::write(&p, toml).expect("write config");
    p
}

impl Server {
    /// `runcell serve` with a fresh SQLite file and these extra config lines.
    pub fn start(toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite:{}", dir.path().join("db.sqlite").display());
        Server::start_with(dir, &db, toml)
    }

    /// `runcell serve` on `database` with these config lines.
    pub fn start_with(dir: tempfile::TempDir, database: &str, toml: &str) -> Server {
        Server::spawn(dir, database, toml, None)
    }

    /// `runcell serve` running as `uid` (the tests run as root): everything in its
    /// directory belongs to that uid.
    pub fn start_as(uid: u32, toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite:{}", dir.path().join("db.sqlite").display());
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(uid)).expect("chown");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        Server::spawn(dir, &db, toml, Some(uid))
    }

    /// `runcell serve` on `database` with its job directories under `work_dir` (which
    /// outlives the server, e.g. to start another one on it).
    pub fn start_in(dir: tempfile::TempDir, database: &str, toml: &str, work_dir: &Path) -> Server {
        Server::spawn_in(dir, database, toml, None, work_dir.to_path_buf())
    }

    fn spawn(dir: tempfile::TempDir, database: &str, toml: &str, uid: Option<u32>) -> Server {
        let work_dir = dir.path().join("work");
        Server::spawn_in(dir, database, toml, uid, work_dir)
    }

    fn spawn_in(
        dir: tempfile::TempDir,
        database: &str,
        toml: &str,
        uid: Option<u32>,
        work_dir: PathBuf,
    ) -> Server {
        use std::os::unix::process::CommandExt;
        let cfg = config(dir.path(), toml);
        let mut cmd = Command::new(BIN);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
            .arg("--config")
            .arg(&cfg)
            .arg("--work-dir")
            .arg(&work_dir)
            .env("RUNCELL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start runcell serve");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read listen line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            dir,
            work_dir,
        }
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        json(&self.addr, "GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        json(&self.addr, "POST", path, &[], body.to_string().as_bytes())
    }

    /// Poll a submission until it leaves In Queue/Processing (generous deadline: the answer
    /// must come, however loaded the machine is).
    pub fn wait_done(&self, token: &str, query: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (code, v) = self.get(&format!("/submissions/{token}?{query}"));
            assert_eq!(code, 200, "{v}");
            let id = v["status"]["id"].as_i64().unwrap_or(0);
            if id > 2 {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "submission {token} never finished: {v}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop with SIGTERM and wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        // SAFETY: kill on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        self.child.wait().expect("wait server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.stop();
        }
    }
}

/// One HTTP request; returns status and body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(600))).ok();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send head");
    // The server may answer (413) before reading a huge body: ignore a broken pipe.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (code, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// A request whose answer is JSON (Null when it is not).
pub fn json(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let (code, b) = request(addr, method, path, headers, body);
    (
        code,
        serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
    )
}

/// Processes whose command line contains `needle` (to check nothing is left running).
pub fn processes_matching(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                if cmd.contains(needle) {
                    out.push(format!("{}: {cmd}", name.to_string_lossy()));
                }
            }
        }
    }
    out
}
