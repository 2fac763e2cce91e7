//! The Piston v2 API of `runcell serve`: runtimes, execute with real request bodies (including
//! the text/plain content type of the npm piston-client), and interactive WebSocket sessions.

mod common;

use std::time::Duration;

use common::{Server, json, request};
use serde_json::{Value, json};
use tungstenite::Message;

#[test]
fn runtimes_list_the_languages() {
    let s = Server::start("workers = 1\n");
    let (code, v) = s.get("/api/v2/runtimes");
    assert_eq!(code, 200);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    for n in ["python", "c", "c++", "java", "javascript", "bash"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let py = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["language"] == "python")
        .unwrap();
    assert!(py["version"].as_str().unwrap().starts_with("3."), "{py}");
    assert!(py["aliases"].as_array().unwrap().contains(&json!("py")));
}

#[test]
fn execute_like_piston() {
    let s = Server::start("workers = 1\n");
    // The npm piston-client's request: text/plain body.
    let body = json!({
        "language": "py",
        "version": "3",
        "files": [{"name": "main.py", "content": "import sys\nprint(sys.argv[1:], input())\nprint('oops', file=sys.stderr)\nsys.exit(2)"}],
        "stdin": "line",
        "args": ["a b", "$HOME", "it's"],
        "run_timeout": 5000,
    });
    let (code, v) = json(
        &s.addr,
        "POST",
        "/api/v2/execute",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body.to_string().as_bytes(),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["language"], "python");
    let run = &v["run"];
    assert_eq!(run["stdout"], "['a b', '$HOME', \"it's\"] line\n", "{v}");
    assert_eq!(run["stderr"], "oops\n");
    assert_eq!(run["code"], 2);
    assert_eq!(run["status"], "RE");
    assert_eq!(run["signal"], Value::Null);
    // Interleaved in the order the writes arrived (Python may write "oops" and its newline
    // separately, with stdout's flush between them): every byte of both streams, in order
    // within each stream.
    let out = run["output"].as_str().unwrap();
    assert_eq!(
        out.len(),
        "oops\n".len() + "['a b', '$HOME', \"it's\"] line\n".len(),
        "{out}"
    );
    assert!(out.contains("oops") && out.contains("line\n"), "{out}");
    assert!(run["cpu_time"].is_u64() && run["wall_time"].is_u64() && run["memory"].is_u64());
    assert!(v.get("compile").is_none(), "python does not compile");

    // A compiled language: compile then run stages.
    let (code, v) = s.post(
        "/api/v2/execute",
        &json!({"language": "c++", "version": "*", "files": [{"content":
            "#include <iostream>\nint main(){std::string s; std::cin >> s; std::cout << s.size() << std::endl;}"}],
            "stdin": "hello"}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["compile"]["code"], 0, "{v}");
    assert_eq!(v["run"]["stdout"], "5\n");
    // Compile error: run is the compile stage, as Piston answers.
    let (_, v) = s.post(
        "/api/v2/execute",
        &json!({"language": "c", "version": "*", "files": [{"content": "int main( {"}]}),
    );
    assert_ne!(v["compile"]["code"], 0, "{v}");
    assert_eq!(v["run"], v["compile"]);
    assert!(
        v["compile"]["stderr"].as_str().unwrap().contains("error"),
        "{v}"
    );
    // Timeout.
    let (_, v) = s.post(
        "/api/v2/execute",
        &json!({"language": "bash", "version": "*", "files": [{"content": "while :; do :; done"}],
                "run_timeout": 500, "run_cpu_time": 500}),
    );
    assert_eq!(v["run"]["status"], "TO", "{v}");
    assert_eq!(v["run"]["signal"], "SIGKILL");
    // Base64 files.
    let (_, v) = s.post(
        "/api/v2/execute",
        &json!({"language": "node", "version": "*",
                "files": [{"content": "Y29uc29sZS5sb2coNiAqIDcp", "encoding": "base64"}]}),
    );
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");

    // Piston's 400s.
    for (body, msg) in [
        (
            json!({"version": "*", "files": []}),
            "language is required as a string",
        ),
        (
            json!({"language": "python", "files": []}),
            "version is required as a string",
        ),
        (
            json!({"language": "python", "version": "*"}),
            "files is required as an array",
        ),
        (
            json!({"language": "cobol", "version": "*", "files": [{"content": ""}]}),
            "cobol-* runtime is unknown",
        ),
        (
            json!({"language": "python", "version": "*", "files": [{"content": 1}]}),
            "files[0].content is required as a string",
        ),
        (
            json!({"language": "python", "version": "*", "files": [{"content": ""}], "run_timeout": 99999999}),
            "run_timeout cannot exceed the configured limit of 20000",
        ),
    ] {
        let (code, v) = s.post("/api/v2/execute", &body);
        assert_eq!(code, 400, "{body}");
        assert_eq!(v["message"], msg, "{body}");
    }
    let (code, _) = request(&s.addr, "POST", "/api/v2/execute", &[], b"{nope");
    assert_eq!(code, 400);
}

fn ws(
    s: &Server,
) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>> {
    let (sock, _) = tungstenite::connect(format!("ws://{}/api/v2/connect", s.addr)).expect("ws");
    if let tungstenite::stream::MaybeTlsStream::Plain(t) = sock.get_ref() {
        t.set_read_timeout(Some(Duration::from_secs(300))).ok();
    }
    sock
}

fn next_json(
    sock: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> Option<Value> {
    loop {
        match sock.read() {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).expect("json")),
            Ok(Message::Close(f)) => {
                return Some(json!({"closed": f.map(|f| u16::from(f.code))}));
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[test]
fn interactive_session_streams_both_ways() {
    let s = Server::start("workers = 1\n");
    let mut sock = ws(&s);
    // A program that answers each line it reads, until "bye".
    let prog = "import sys\nfor line in sys.stdin:\n    line = line.strip()\n    if line == 'bye':\n        break\n    print('echo:' + line, flush=True)\nprint('done')";
    sock.send(Message::Text(
        json!({"type": "init", "language": "python", "version": "*",
               "files": [{"content": prog}], "run_timeout": 20000})
        .to_string()
        .into(),
    ))
    .unwrap();
    let rt = next_json(&mut sock).unwrap();
    assert_eq!(rt["type"], "runtime", "{rt}");
    assert_eq!(rt["language"], "python");
    assert_eq!(
        next_json(&mut sock).unwrap(),
        json!({"type": "stage", "stage": "run"})
    );
    // Each answer comes back before the next line is sent: true interactivity.
    for word in ["one", "two", "three"] {
        sock.send(Message::Text(
            json!({"type": "data", "stream": "stdin", "data": format!("{word}\n")})
                .to_string()
                .into(),
        ))
        .unwrap();
        let mut got = String::new();
        while !got.ends_with('\n') {
            let v = next_json(&mut sock).unwrap();
            assert_eq!(v["type"], "data", "{v}");
            assert_eq!(v["stream"], "stdout");
            got.push_str(v["data"].as_str().unwrap());
        }
        assert_eq!(got, format!("echo:{word}\n"));
    }
    sock.send(Message::Text(
        json!({"type": "data", "stream": "stdin", "data": "bye\n"})
            .to_string()
            .into(),
    ))
    .unwrap();
    let mut rest = Vec::new();
    loop {
        let v = next_json(&mut sock).unwrap();
        let closed = v.get("closed").is_some();
        rest.push(v);
        if closed {
            break;
        }
    }
    let data: String = rest
        .iter()
        .filter(|v| v["type"] == "data")
        .map(|v| v["data"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(data, "done\n", "{rest:?}");
    let exit = rest
        .iter()
        .find(|v| v["type"] == "exit")
        .expect("exit event");
    assert_eq!(exit["stage"], "run");
    assert_eq!(exit["code"], 0);
    assert_eq!(rest.last().unwrap()["closed"], 4999);
}

#[test]
fn a_signal_or_a_disconnect_ends_the_program() {
    let s = Server::start("workers = 1\n");
    let marker = "ws-marker-7f3a";
    let init = json!({"type": "init", "language": "bash", "version": "*",
                      "files": [{"content": "echo started; while :; do sleep 0.05; done"}],
                      "args": [marker], "run_timeout": 20000});
    // SIGKILL from the client.
    let mut sock = ws(&s);
    sock.send(Message::Text(init.to_string().into())).unwrap();
    loop {
        let v = next_json(&mut sock).unwrap();
        if v["type"] == "data" {
            break;
        }
    }
    sock.send(Message::Text(
        json!({"type": "signal", "signal": "SIGKILL"})
            .to_string()
            .into(),
    ))
    .unwrap();
    let mut exit = None;
    loop {
        let v = next_json(&mut sock).unwrap();
        if v["type"] == "exit" {
            exit = Some(v.clone());
        }
        if v.get("closed").is_some() {
            break;
        }
    }
    assert_eq!(exit.unwrap()["signal"], "SIGKILL");

    // A client that disconnects mid-run: its program is killed.
    let mut sock = ws(&s);
    sock.send(Message::Text(init.to_string().into())).unwrap();
    loop {
        let v = next_json(&mut sock).unwrap();
        if v["type"] == "data" {
            break;
        }
    }
    assert!(
        !common::processes_matching(marker).is_empty(),
        "program runs"
    );
    drop(sock);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !common::processes_matching(marker).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "program outlived its client"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // runcell's "eof" message ends stdin: a program reading to the end finishes.
    let mut sock = ws(&s);
    sock.send(Message::Text(
        json!({"type": "init", "language": "bash", "version": "*", "files": [{"content": "tr a-z A-Z"}]})
            .to_string()
            .into(),
    ))
    .unwrap();
    sock.send(Message::Text(
        json!({"type": "data", "stream": "stdin", "data": "abc\n"})
            .to_string()
            .into(),
    ))
    .unwrap();
    sock.send(Message::Text(json!({"type": "eof"}).to_string().into()))
        .unwrap();
    let mut out = String::new();
    let mut code = Value::Null;
    loop {
        let v = next_json(&mut sock).unwrap();
        if v["type"] == "data" {
            out.push_str(v["data"].as_str().unwrap());
        }
        if v["type"] == "exit" {
            code = v["code"].clone();
        }
        if v.get("closed").is_some() {
            break;
        }
    }
    assert_eq!((out.as_str(), code), ("ABC\n", json!(0)));

    // Bad messages get Piston's close codes.
    let mut sock = ws(&s);
    sock.send(Message::Text(
        json!({"type": "data", "stream": "stdin", "data": "x"})
            .to_string()
            .into(),
    ))
    .unwrap();
    assert_eq!(next_json(&mut sock).unwrap()["closed"], 4003);
    let mut sock = ws(&s);
    sock.send(Message::Text(
        json!({"type": "init", "language": "nope", "version": "*", "files": []})
            .to_string()
            .into(),
    ))
    .unwrap();
    let v = next_json(&mut sock).unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(next_json(&mut sock).unwrap()["closed"], 4002);
}
