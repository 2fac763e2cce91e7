//! The Judge0 API of `runcell serve` over HTTP: shapes, statuses, validation and its error
//! shapes, limits, batches, callbacks, authentication. Asserts on final states only.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Server, json, request};
use serde_json::{Value, json};

fn is_uuid_v4(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 36
        && b[8] == b'-'
        && b[13] == b'-'
        && b[18] == b'-'
        && b[23] == b'-'
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[test]
fn metadata_endpoints_have_judge0_shapes() {
    let s = Server::start("workers = 1\n");
    let (code, about) = s.get("/about");
    assert_eq!(code, 200);
    assert_eq!(about["version"], "1.13.1");
    let (_, cfg) = s.get("/config_info");
    for k in [
        "maintenance_mode",
        "enable_wait_result",
        "max_queue_size",
        "cpu_time_limit",
        "max_memory_limit",
        "max_submission_batch_size",
        "allow_enable_network",
        "submission_cache_duration",
    ] {
        assert!(cfg.get(k).is_some(), "config_info lacks {k}");
    }
    let (_, langs) = s.get("/languages");
    let ids: Vec<i64> = langs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    for id in [46, 50, 52, 62, 63, 71, 89] {
        assert!(ids.contains(&id), "language {id} in {ids:?}");
    }
    let (code, py) = s.get("/languages/71");
    assert_eq!(code, 200);
    assert!(
        py["name"].as_str().unwrap().starts_with("Python (3."),
        "{py}"
    );
    assert_eq!(py["source_file"], "script.py");
    assert_eq!(s.get("/languages/9999").0, 404);
    let (_, st) = s.get("/statuses");
    assert_eq!(st.as_array().unwrap().len(), 14);
    assert_eq!(
        st[4],
        json!({"id": 5, "description": "Time Limit Exceeded"})
    );
    let (code, w) = s.get("/workers");
    assert_eq!(code, 200);
    assert!(w[0]["size"].is_i64(), "{w}");
    assert_eq!(s.get("/system_info").0, 200);
    assert_eq!(s.get("/statistics").0, 200);
    let (code, m) = request(&s.addr, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&m).contains("runcell_queue_depth"));
}

#[test]
fn create_poll_fields_base64_and_wait() {
    let s = Server::start("workers = 2\n");
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "print(input())", "language_id": 71, "stdin": "hi"}),
    );
    assert_eq!(code, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert!(is_uuid_v4(&token), "{token}");
    assert_eq!(v.as_object().unwrap().len(), 1, "only the token: {v}");
    let done = s.wait_done(&token, "");
    let keys: Vec<&str> = done
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "token",
        "time",
        "memory",
        "stdout",
        "stderr",
        "compile_output",
        "message",
        "status",
    ];
    want.sort();
    assert_eq!(keys, want, "default fields");
    assert_eq!(done["stdout"], "hi\n");
    assert_eq!(done["status"], json!({"id": 3, "description": "Accepted"}));
    // Decimals are strings, memory an integer (KB).
    assert!(
        done["time"].as_str().unwrap().parse::<f64>().is_ok(),
        "{done}"
    );
    assert!(done["memory"].is_i64(), "{done}");

    let (_, all) = s.get(&format!(
        "/submissions/{token}?fields=*&base64_encoded=true"
    ));
    assert_eq!(all["stdout"], B64.encode("hi\n"));
    assert_eq!(all["source_code"], B64.encode("print(input())"));
    assert_eq!(all["cpu_time_limit"], "5.0");
    assert_eq!(all["memory_limit"], 128000);
    assert_eq!(all["language"]["id"], 71);
    assert!(all["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(all.as_object().unwrap().len(), 35, "{all}");

    let (_, some) = s.get(&format!("/submissions/{token}?fields=stdout,exit_code"));
    assert_eq!(some, json!({"stdout": "hi\n", "exit_code": 0}));
    let (code, bad) = s.get(&format!("/submissions/{token}?fields=stdout,nope"));
    assert_eq!(code, 400);
    assert_eq!(bad["error"], "invalid fields: [nope]");
    assert_eq!(
        s.get("/submissions/00000000-0000-4000-8000-000000000000").0,
        404
    );

    // wait=true answers with the result, base64 both ways.
    let (code, w) = s.post(
        "/submissions?wait=true&base64_encoded=true",
        &json!({
            "source_code": B64.encode("import sys; sys.stdout.buffer.write(bytes([0xff, 0x0a]))"),
            "language_id": 71,
        }),
    );
    assert_eq!(code, 201, "{w}");
    assert_eq!(w["status"]["id"], 3, "{w}");
    assert_eq!(
        B64.decode(w["stdout"].as_str().unwrap()).unwrap(),
        [0xff, 0x0a]
    );
    // The same output without base64 cannot be shown: Judge0's 400.
    let t = w["token"].as_str().unwrap();
    let (code, e) = s.get(&format!("/submissions/{t}"));
    assert_eq!(code, 400);
    assert!(
        e["error"].as_str().unwrap().contains("base64_encoded=true"),
        "{e}"
    );

    // Listing and deleting.
    let (code, list) = s.get("/submissions?page=1&per_page=1&base64_encoded=true");
    assert_eq!(code, 200);
    assert_eq!(list["submissions"].as_array().unwrap().len(), 1);
    assert_eq!(list["meta"]["total_count"], 2);
    assert_eq!(list["meta"]["total_pages"], 2);
    assert_eq!(s.get("/submissions?page=0").0, 400);
    let (code, gone) = json(
        &s.addr,
        "DELETE",
        &format!("/submissions/{token}"),
        &[],
        b"",
    );
    assert_eq!(code, 200, "{gone}");
    assert_eq!(s.get(&format!("/submissions/{token}")).0, 404);

    // Nothing of the jobs is left on disk.
    let left: Vec<_> = std::fs::read_dir(&s.work_dir).unwrap().collect();
    assert!(left.is_empty(), "job directories left: {left:?}");
}

#[test]
fn statuses_from_real_runs() {
    let s = Server::start("workers = 2\n");
    let cases = [
        (
            json!({"source_code": "print(1)", "language_id": 71, "expected_output": "1  \n\n"}),
            3,
        ),
        (
            json!({"source_code": "print(2)", "language_id": 71, "expected_output": "1"}),
            4,
        ),
        (
            json!({"source_code": "while True: pass", "language_id": 71,
                   "cpu_time_limit": 0.5, "wall_time_limit": 2}),
            5,
        ),
        (json!({"source_code": "int main( {", "language_id": 52}), 6),
        (
            json!({"source_code": "int main(){return *(volatile int*)0;}", "language_id": 50}),
            7,
        ),
        (
            json!({"source_code": "#include <signal.h>\nint main(){raise(SIGXFSZ);}", "language_id": 50}),
            8,
        ),
        (json!({"source_code": "exit 4", "language_id": 46}), 11),
        (
            json!({"source_code": "#include <signal.h>\nint main(){raise(SIGUSR1);}", "language_id": 50}),
            12,
        ),
        (
            json!({"source_code": "a = bytearray(400 * 1024 * 1024)\nprint(len(a))",
                   "language_id": 71, "memory_limit": 65536}),
            12,
        ),
        (
            json!({"source_code": "printf 'garbage' > x; chmod +x x; ./x", "language_id": 46}),
            11,
        ),
    ];
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let tokens: Vec<(String, i64, Value)> = cases
        .iter()
        .map(|(body, want)| {
            let (code, v) = s.post("/submissions", body);
            assert_eq!(code, 201, "{v}");
            (
                v["token"].as_str().unwrap().to_string(),
                *want,
                body.clone(),
            )
        })
        .collect();
    for (t, mut want, body) in tokens {
        let v = s.wait_done(&t, "fields=*");
        // Unprivileged there are no cgroups: RLIMIT_AS makes the allocation fail inside
        // Python (MemoryError, exit 1) instead of an out-of-memory kill.
        if !root && body["memory_limit"].is_number() {
            want = 11;
        }
        assert_eq!(v["status_id"], want, "{body} -> {v}");
        match want {
            5 => assert_eq!(v["message"], "Time limit exceeded"),
            6 => assert!(v["compile_output"].as_str().unwrap().contains("error")),
            7 => assert_eq!(v["exit_signal"], 11),
            11 => assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Exited with error status")
            ),
            12 if body["memory_limit"].is_number() => {
                assert!(
                    v["message"].as_str().unwrap().contains("Memory limit"),
                    "{v}"
                )
            }
            _ => {}
        }
    }
}

/// `stack_limit` (KB) is the run's RLIMIT_STACK on its own, as Judge0's isolate `--stack`:
/// the same deep recursion passes under the default 64000 KB (above the host's usual 8 MiB
/// soft limit, so the limit is set, not inherited) and dies of SIGSEGV (status 7, signal 11)
/// under 1000 KB, in C (a recursive function) and in Python (a nested list's repr recurses
/// in C).
#[test]
fn stack_limit_is_the_runs_stack_rlimit() {
    let s = Server::start("workers = 2\n");
    let c = "#include <stdio.h>\n\
             int f(int n) { volatile char buf[64]; buf[0] = (char)n; \
             if (n == 0) return 0; return f(n - 1) + buf[0]; }\n\
             int main(void) { f(100000); puts(\"deep\"); return 0; }\n";
    let py = "import sys\nsys.setrecursionlimit(1000000)\nl = []\n\
              for _ in range(50000):\n    l = [l]\nrepr(l)\nprint('deep')\n";
    let mut cases = Vec::new();
    for (src, lang) in [(c, 50), (py, 71)] {
        for stack in [None, Some(1000)] {
            let mut body = json!({"source_code": src, "language_id": lang});
            if let Some(kb) = stack {
                body["stack_limit"] = json!(kb);
            }
            let (code, v) = s.post("/submissions", &body);
            assert_eq!(code, 201, "{v}");
            cases.push((v["token"].as_str().unwrap().to_string(), lang, stack));
        }
    }
    for (t, lang, stack) in cases {
        let v = s.wait_done(&t, "base64_encoded=false&fields=*");
        if stack.is_none() {
            assert_eq!(v["status_id"], 3, "language {lang}, default stack: {v}");
            assert_eq!(v["stack_limit"], 64000, "{v}");
            assert_eq!(v["stdout"], "deep\n", "{v}");
        } else {
            assert_eq!(v["status_id"], 7, "language {lang}, 1000 KB stack: {v}");
            assert_eq!(v["exit_signal"], 11, "{v}");
            assert!(v["stdout"].is_null(), "{v}");
        }
    }
}

#[test]
fn bad_input_gets_judge0_errors() {
    let s = Server::start("workers = 1\nmax_body_bytes = 8388608\n");
    let post_raw = |body: &[u8]| json(&s.addr, "POST", "/submissions", &[], body);
    let (code, v) = post_raw(b"{\"source_code\": ");
    assert_eq!(code, 400, "malformed JSON: {v}");
    assert!(v["error"].is_string());

    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "x", "language_id": 4242}),
    );
    assert_eq!(code, 422);
    assert_eq!(
        v,
        json!({"language_id": ["language with id 4242 doesn't exist"]})
    );

    let (code, v) = s.post("/submissions", &json!({"language_id": 71}));
    assert_eq!(code, 422);
    assert_eq!(v, json!({"source_code": ["can't be blank"]}));

    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "x", "language_id": 71, "cpu_time_limit": 100,
                "memory_limit": 10_000_000, "wall_time_limit": 0.5, "number_of_runs": 0}),
    );
    assert_eq!(code, 422);
    assert_eq!(
        v["cpu_time_limit"],
        json!(["must be less than or equal to 15"])
    );
    assert_eq!(
        v["memory_limit"],
        json!(["must be less than or equal to 512000"])
    );
    assert_eq!(
        v["wall_time_limit"],
        json!(["must be greater than or equal to 1"])
    );
    assert_eq!(v["number_of_runs"], json!(["must be greater than 0"]));

    let (code, v) = s.post(
        "/submissions?base64_encoded=true",
        &json!({"source_code": "%%%not base64", "language_id": 71}),
    );
    assert_eq!(code, 422);
    assert_eq!(v["source_code"], json!(["is not valid base64"]));

    // 100 MB of source: refused before it is read whole.
    let big = vec![b'a'; 100 << 20];
    let (code, _) = request(&s.addr, "POST", "/submissions", &[], &big);
    assert_eq!(code, 413);
    // A source over the source limit inside an accepted body.
    let src = "#".repeat(5 << 20);
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": src, "language_id": 71}),
    );
    assert_eq!(code, 422, "{v}");

    // additional_files: a zip bomb and a zip that climbs out.
    let bomb = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("zeros", zip::write::SimpleFileOptions::default())
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            w.write_all(&chunk).unwrap();
        }
        w.finish().unwrap().into_inner()
    };
    assert!(bomb.len() < 1 << 20);
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "print(1)", "language_id": 71, "additional_files": B64.encode(&bomb)}),
    );
    assert_eq!(code, 422, "{v}");
    assert!(
        v["additional_files"][0]
            .as_str()
            .unwrap()
            .contains("more than"),
        "{v}"
    );
    let climb = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("../../etc/evil", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"x").unwrap();
        w.finish().unwrap().into_inner()
    };
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "print(1)", "language_id": 71, "additional_files": B64.encode(&climb)}),
    );
    assert_eq!(code, 422, "{v}");
    assert!(
        v["additional_files"][0]
            .as_str()
            .unwrap()
            .contains("leaves"),
        "{v}"
    );

    // Batches: Judge0's per-item answers and limits.
    let (code, v) = s.post(
        "/submissions/batch",
        &json!({"submissions": [
            {"source_code": "print(7)", "language_id": 71},
            {"source_code": "x", "language_id": 4242},
        ]}),
    );
    assert_eq!(code, 201, "{v}");
    let t = v[0]["token"].as_str().unwrap().to_string();
    assert!(v[1]["language_id"].is_array(), "{v}");
    s.wait_done(&t, "");
    let (code, v) = s.get(&format!("/submissions/batch?tokens={t},nope&fields=stdout"));
    assert_eq!(code, 200);
    assert_eq!(v, json!({"submissions": [{"stdout": "7\n"}, null]}));
    let (code, _) = s.post("/submissions/batch", &json!({"submissions": []}));
    assert_eq!(code, 400);
    let many: Vec<Value> = (0..21)
        .map(|_| json!({"source_code": "print(1)", "language_id": 71}))
        .collect();
    let (code, v) = s.post("/submissions/batch", &json!({ "submissions": many }));
    assert_eq!(code, 400, "{v}");
}

#[test]
fn a_full_queue_answers_503() {
    // No workers: nothing drains the queue.
    let s = Server::start("workers = 0\nmax_queue_size = 2\n");
    let body = json!({"source_code": "print(1)", "language_id": 71});
    assert_eq!(s.post("/submissions", &body).0, 201);
    assert_eq!(s.post("/submissions", &body).0, 201);
    let (code, v) = s.post("/submissions", &body);
    assert_eq!(code, 503);
    assert_eq!(v, json!({"error": "queue is full"}));
    // Judge0's order: a full queue is answered before the body is judged (an unknown
    // language, malformed JSON), and with `wait=true` too.
    let bad = json!({"source_code": "print(1)", "language_id": 99999});
    assert_eq!(
        s.post("/submissions", &bad),
        (503, json!({"error": "queue is full"}))
    );
    let (code, _) = request(&s.addr, "POST", "/submissions", &[], b"{not json");
    assert_eq!(code, 503);
    assert_eq!(s.post("/submissions?wait=true", &body).0, 503);
    // Once there is room, the same bodies get their own answers.
    let roomy = Server::start("workers = 0\nmax_queue_size = 3\n");
    assert_eq!(roomy.post("/submissions", &body).0, 201);
    assert_eq!(roomy.post("/submissions", &bad).0, 422);
    let (code, _) = request(&roomy.addr, "POST", "/submissions", &[], b"{not json");
    assert_eq!(code, 400);
}

#[test]
fn authentication_headers() {
    let s = Server::start("workers = 1\nauthn_token = \"secret\"\nauthz_token = \"admin\"\n");
    assert_eq!(s.get("/languages").0, 401);
    let (code, _) = json(
        &s.addr,
        "GET",
        "/languages",
        &[("X-Auth-Token", "secret")],
        b"",
    );
    assert_eq!(code, 200);
    let (code, _) = json(
        &s.addr,
        "GET",
        "/submissions",
        &[("X-Auth-Token", "secret")],
        b"",
    );
    assert_eq!(code, 403);
    let (code, _) = json(
        &s.addr,
        "GET",
        "/submissions",
        &[("X-Auth-Token", "secret"), ("X-Auth-User", "admin")],
        b"",
    );
    assert_eq!(code, 200);
}

/// Accept connections on a loopback listener in a thread and hand each request's bytes over.
fn callback_sink(answer: bool) -> (String, std::sync::mpsc::Receiver<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            c.set_read_timeout(Some(Duration::from_millis(500))).ok();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = c.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if answer {
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            } else {
                held.push(c);
            }
            if tx.send(buf).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[test]
fn callbacks_are_put_and_bounded() {
    let s = Server::start("workers = 1\ncallbacks_max_tries = 2\ncallbacks_timeout = 1.0\n");
    let (ok_addr, ok_rx) = callback_sink(true);
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "print('cb')", "language_id": 71,
                "callback_url": format!("http://{ok_addr}/done")}),
    );
    assert_eq!(code, 201);
    let token = v["token"].as_str().unwrap();
    let req = ok_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("callback");
    let text = String::from_utf8_lossy(&req);
    assert!(text.starts_with("PUT /done "), "{text}");
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let v: Value = serde_json::from_str(body).expect("callback body is JSON");
    assert_eq!(v["token"], token);
    assert_eq!(v["status"]["id"], 3);
    assert_eq!(v["stdout"], B64.encode("cb\n"));

    // A callback URL that never answers: tried callbacks_max_tries times, the submission is
    // finished regardless and the server still stops cleanly.
    let (hang_addr, hang_rx) = callback_sink(false);
    let (_, v) = s.post(
        "/submissions",
        &json!({"source_code": "print(1)", "language_id": 71,
                "callback_url": format!("http://{hang_addr}/")}),
    );
    let done = s.wait_done(v["token"].as_str().unwrap(), "");
    assert_eq!(done["status"]["id"], 3);
    for i in 0..2 {
        hang_rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("attempt {i}"));
    }
    // No third attempt arrives (the two tries took at least their timeouts).
    assert!(hang_rx.recv_timeout(Duration::from_secs(3)).is_err());
}

/// A callback receiver that accepts the connection and never answers holds no worker: with
/// one worker and a 60 s callback timeout, the next submissions run while the first one's
/// callback is still waiting for its answer.
#[test]
fn a_callback_that_never_answers_does_not_hold_the_worker() {
    let s = Server::start("workers = 1\ncallbacks_max_tries = 3\ncallbacks_timeout = 60\n");
    let (hang_addr, hang_rx) = callback_sink(false);
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "print('a')", "language_id": 71,
                "callback_url": format!("http://{hang_addr}/")}),
    );
    assert_eq!(code, 201, "{v}");
    s.wait_done(v["token"].as_str().unwrap(), "");
    hang_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the first callback attempt");
    let tokens: Vec<String> = (0..3)
        .map(|i| {
            let (code, v) = s.post(
                "/submissions",
                &json!({"source_code": format!("print({i})"), "language_id": 71}),
            );
            assert_eq!(code, 201, "{v}");
            v["token"].as_str().unwrap().to_string()
        })
        .collect();
    for t in &tokens {
        assert_eq!(s.wait_done(t, "")["status"]["id"], 3);
    }
    // Had the worker been sending the callback, these could only have run after all three
    // attempts (3 x 60 s); the receiver has not even seen all of them yet.
    let attempts = 1 + hang_rx.try_iter().count();
    assert!(
        attempts < 3,
        "{attempts} callback attempts before the next jobs ran"
    );
}

/// A loopback https receiver with a certificate from a CA made here: every TLS failure and
/// every request it gets is reported, in order.
fn tls_sink() -> (
    String,
    String,
    std::sync::mpsc::Receiver<Result<String, String>>,
) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let config = std::sync::Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(tcp) = c else { continue };
            tcp.set_read_timeout(Some(Duration::from_secs(60))).ok();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let got = loop {
                match tls.read(&mut chunk) {
                    Ok(0) => break Err("closed before a request".to_string()),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => break Err(e.to_string()),
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Ok(text);
                    }
                }
            };
            if got.is_ok() {
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                let _ = tls.flush();
            }
            if tx.send(got).is_err() {
                return;
            }
        }
    });
    (addr, ca.pem(), rx)
}

/// https callback URLs: verified by default (a receiver whose CA the host does not trust gets
/// no result, only failed handshakes), delivered when its CA is given with
/// `callbacks_ca_file`, and with `callbacks_insecure` (no verification) when asked for.
#[test]
fn https_callbacks_verify_the_receiver() {
    let (addr, ca_pem, rx) = tls_sink();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = format!("https://{addr}/done");
    // The server is kept until its callback has been seen (stopping it drops pending
    // callbacks).
    let send = |toml: &str| -> (Server, String) {
        let s = Server::start(toml);
        let (code, v) = s.post(
            "/submissions",
            &json!({"source_code": "print('tls')", "language_id": 71, "callback_url": url}),
        );
        assert_eq!(code, 201, "{v}");
        let t = v["token"].as_str().unwrap().to_string();
        s.wait_done(&t, "");
        (s, t)
    };
    let next = || rx.recv_timeout(Duration::from_secs(300)).expect("TLS sink");

    // Secure by default: both tries fail the handshake, nothing is sent.
    let _kept = send("workers = 1\ncallbacks_max_tries = 2\n");
    for _ in 0..2 {
        let e = next().expect_err("an unverified receiver got the result");
        assert!(e.to_lowercase().contains("alert"), "{e}");
    }

    for extra in [
        format!("callbacks_ca_file = {:?}\n", ca_file.display().to_string()),
        "callbacks_insecure = true\n".to_string(),
    ] {
        let (_kept, token) = send(&format!("workers = 1\ncallbacks_max_tries = 2\n{extra}"));
        let req = next().unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert!(req.starts_with("PUT /done "), "{req}");
        let body: Value = serde_json::from_str(&req[req.find("\r\n\r\n").unwrap() + 4..])
            .expect("callback body is JSON");
        assert_eq!(body["token"], token.as_str());
        assert_eq!(body["status"]["id"], 3);
    }

    // An unreadable CA file is refused at startup, with its path.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(common::config(
            dir.path(),
            "callbacks_ca_file = \"/nonexistent/ca.pem\"\n",
        ))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn graceful_shutdown_finishes_running_jobs() {
    let mut s = Server::start("workers = 1\n");
    let (_, v) = s.post(
        "/submissions",
        &json!({"source_code": "import time; time.sleep(1); print('done')", "language_id": 71}),
    );
    let token = v["token"].as_str().unwrap().to_string();
    // Wait until it is being processed, then stop the server.
    loop {
        let (_, v) = s.get(&format!("/submissions/{token}?fields=status_id"));
        if v["status_id"] != 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = s.stop();
    assert!(status.success(), "{status:?}");
    // Reopen the same database: the job finished before the process exited.
    let db = format!("sqlite:{}", s.dir.path().join("db.sqlite").display());
    let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    let s2 = Server::start_with(dir, &db, "workers = 0\n");
    let (_, v) = s2.get(&format!("/submissions/{token}"));
    assert_eq!(v["status"]["id"], 3, "{v}");
    assert_eq!(v["stdout"], "done\n");
}

#[test]
fn the_analyzer_gate_refuses_python_before_queueing() {
    let s = Server::start("workers = 1\nanalyze_python = true\n");
    let (code, v) = s.post(
        "/submissions",
        &json!({"source_code": "import os\n\nos.system('id')\n", "language_id": 71}),
    );
    assert_eq!(code, 422, "{v}");
    let msg = v["source_code"][0].as_str().unwrap();
    assert!(
        msg.contains("process-exec") && msg.contains("line 3"),
        "{msg}"
    );
    let (_, list) = s.get("/submissions");
    assert_eq!(list["meta"]["total_count"], 0, "nothing was queued");
    // Clean code and other languages pass.
    let (code, v) = s.post(
        "/submissions?wait=true",
        &json!({"source_code": "print(sum(range(10)))", "language_id": 71}),
    );
    assert_eq!(code, 201);
    assert_eq!(v["stdout"], "45\n");
    let (code, _) = s.post(
        "/submissions",
        &json!({"source_code": "echo $(id)", "language_id": 46}),
    );
    assert_eq!(code, 201);
}

/// The service as an unprivileged user (uid 65534): runs write into the job directory,
/// compile, and leave nothing behind even when the program locks a directory (chmod 000).
#[test]
fn unprivileged_server_runs_jobs_and_cleans_up() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // Already unprivileged: the other tests cover this case.
        let s = Server::start("workers = 1\n");
        let (_, v) = s.post(
            "/submissions?wait=true",
            &json!({"source_code": "print(1)", "language_id": 71}),
        );
        assert_eq!(v["status"]["id"], 3);
        return;
    }
    let s = Server::start_as(65534, "workers = 2\n");
    let cases = [
        (
            json!({"source_code": "open('f', 'w').write('x')\nprint(open('f').read())", "language_id": 71}),
            "x\n",
        ),
        (
            json!({"source_code": "#include <stdio.h>\nint main(){puts(\"c\");}", "language_id": 50}),
            "c\n",
        ),
        (
            json!({"source_code": "mkdir -p d/e; touch d/e/f; chmod 000 d/e d; echo locked", "language_id": 46}),
            "locked\n",
        ),
    ];
    for (body, out) in cases {
        let (code, v) = s.post("/submissions?wait=true", &body);
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"]["id"], 3, "{body} -> {v}");
        assert_eq!(v["stdout"], out);
    }
    let left: Vec<_> = std::fs::read_dir(&s.work_dir).unwrap().collect();
    assert!(left.is_empty(), "job directories left: {left:?}");
}

/// The count of runs in a warm cell (a ready one, or one set up on the spot when none was
/// ready), from /metrics; 0 without warm cells.
fn warm_runs(s: &Server) -> u64 {
    let (code, body) = request(&s.addr, "GET", "/metrics", &[], b"");
    assert_eq!(code, 200);
    let text = String::from_utf8_lossy(&body).to_string();
    text.lines()
        .filter_map(|l| l.strip_prefix("runcell_warm_runs_total{cell="))
        .filter_map(|l| l.split_once("} "))
        .map(|(_, v)| v.trim().parse::<u64>().expect("counter"))
        .sum()
}

/// Python submissions give the same answers from a preloaded warm cell as from a cold run:
/// stdout, stderr (tracebacks), exit codes, statuses and messages. What a cell cannot do the
/// same way (other limits, stderr into stdout, quoted arguments) runs cold, with the same
/// answer too.
#[test]
fn warm_cells_answer_like_cold_runs() {
    let cold = Server::start("workers = 1\n");
    let warm = Server::start("workers = 1\nwarm_python = 2\n");
    let cases = [
        json!({"source_code": "import sys\nprint(input()[::-1], sys.argv, __name__)", "stdin": "olleh", "command_line_arguments": "a b=c -d"}),
        json!({"source_code": "def f(x):\n    return 1 / x\n\nprint('before')\nf(0)\n"}),
        json!({"source_code": "import sys\nsys.stderr.write('err\\n')\nsys.exit(3)"}),
        json!({"source_code": "import sys\nsys.exit('bye')"}),
        json!({"source_code": "print('unclosed'"}),
        json!({"source_code": "print(1)", "expected_output": "2"}),
        json!({"source_code": "import os\nprint(sorted(os.listdir('.')), os.getcwd(), __file__)"}),
        json!({"source_code": "import atexit\natexit.register(print, 'at exit')\nprint('main', end='')"}),
        json!({"source_code": "raise KeyError('k') from ValueError('v')"}),
        json!({"source_code": "import os, sys, resource\nprint(sorted(os.environ.items()), sys.path, sys.flags, resource.getrlimit(resource.RLIMIT_STACK)[0])"}),
        // stderr into stdout: `exec 2>&1` cold, the job's own flag in a warm cell.
        json!({"source_code": "import sys\nprint(1)\nprint(2, file=sys.stderr)\nprint(3)\nraise SystemExit('four')", "redirect_stderr_to_stdout": true}),
        // Not for a warm cell (cold in both servers): quoted arguments.
        json!({"source_code": "import sys\nprint(sys.argv)", "command_line_arguments": "'a b' c*"}),
    ];
    let fields = "stdout,stderr,status,exit_code,exit_signal,message,compile_output";
    for case in cases {
        let mut body = case.clone();
        body["language_id"] = json!(71);
        let path = format!("/submissions?wait=true&fields={fields}");
        let (c1, a) = cold.post(&path, &body);
        let (c2, b) = warm.post(&path, &body);
        assert_eq!((c1, c2), (201, 201), "{a} {b}");
        assert_eq!(a, b, "cold and warm differ for {case}");
    }
    assert!(
        warm_runs(&warm) >= 11,
        "the plain cases ran in warm cells: {}",
        warm_runs(&warm)
    );
    assert_eq!(warm_runs(&cold), 0);
}

/// Two consecutive submissions served by warm cells share nothing on disk: what the first
/// writes in its working directory and in /tmp is not there for the second.
#[test]
fn consecutive_warm_submissions_cannot_see_each_others_files() {
    let s = Server::start("workers = 1\nwarm_python = 2\n");
    let write = json!({"language_id": 71, "source_code":
        "import os\nopen('mine.txt', 'w').write('secret')\nopen('/tmp/mine.txt', 'w').write('secret')\nos.mkdir('d')\nprint(sorted(os.listdir('.')))"});
    let (code, v) = s.post("/submissions?wait=true", &write);
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["stdout"], "['d', 'mine.txt', 'script.py']\n", "{v}");
    let look = json!({"language_id": 71, "source_code":
        "import os\nprint(sorted(os.listdir('.')), os.path.exists('/tmp/mine.txt'), sorted(os.listdir('/tmp')))"});
    let (code, v) = s.post("/submissions?wait=true", &look);
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["stdout"], "['script.py'] False []\n", "{v}");
    assert_eq!(warm_runs(&s), 2, "both ran in warm cells");
}
