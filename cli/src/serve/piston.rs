//! The Piston v2 API: `GET /api/v2/runtimes`, `POST /api/v2/execute` (synchronous; the body
//! is JSON whatever its Content-Type, since the npm piston-client sends text/plain) and the
//! interactive WebSocket `/api/v2/connect` (init, data, signal; runtime, stage, data, exit,
//! error). Runs happen in this process (not through the queue), at most one per core at once.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::execute::{
    Executor, StageEvent, StageLimits, StageResult, remove_job_dir, shell_quote, signal_name,
};
use super::judge0::{App, reply};
use super::languages::Language;

struct Piston {
    app: Arc<App>,
    exec: Executor,
    slots: Arc<Semaphore>,
}

/// The Piston routes.
pub fn routes(app: Arc<App>, exec: Executor) -> Router {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let st = Arc::new(Piston {
        app,
        exec,
        slots: Arc::new(Semaphore::new(n)),
    });
    Router::new()
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
        .route("/api/v2/connect", get(connect))
        .with_state(st)
}

fn version_of(l: &Language) -> String {
    if l.version.is_empty() {
        "0.0.0".into()
    } else {
        l.version.clone()
    }
}

async fn runtimes(State(p): State<Arc<Piston>>) -> Response {
    let v: Vec<Value> = p
        .app
        .langs
        .all()
        .iter()
        .filter(|l| !l.piston.is_empty())
        .map(|l| {
            json!({
                "language": l.piston[0],
                "version": version_of(l),
                "aliases": l.piston[1..],
            })
        })
        .collect();
    reply(StatusCode::OK, Value::Array(v))
}

/// A validated Piston job.
struct Job {
    lang: Language,
    files: Vec<(String, Vec<u8>)>,
    stdin: Vec<u8>,
    args: Vec<String>,
    compile: StageLimits,
    run: StageLimits,
}

/// Piston's `get_job`: the same checks and messages.
fn get_job(p: &Piston, body: &Value) -> Result<Job, String> {
    let cfg = &p.app.cfg;
    let language = body
        .get("language")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "language is required as a string".to_string())?;
    let version = body
        .get("version")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "version is required as a string".to_string())?;
    let files = body
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| "files is required as an array".to_string())?;
    let lang = p
        .app
        .langs
        .by_piston(language)
        .filter(|l| {
            let want = version.trim_end_matches(".x").trim_end_matches(".*");
            version == "*"
                || version_of(l) == version
                || version_of(l).starts_with(&format!("{want}."))
        })
        .cloned()
        .ok_or_else(|| format!("{language}-{version} runtime is unknown"))?;
    let mut out_files = Vec::new();
    let mut total = 0usize;
    for (i, f) in files.iter().enumerate() {
        let content = f
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("files[{i}].content is required as a string"))?;
        let bytes = match f.get("encoding").and_then(Value::as_str).unwrap_or("utf8") {
            "utf8" => content.as_bytes().to_vec(),
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(content)
                .map_err(|e| format!("files[{i}].content is not valid base64: {e}"))?,
            "hex" => (0..content.len() / 2)
                .map(|k| u8::from_str_radix(content.get(2 * k..2 * k + 2).unwrap_or("zz"), 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("files[{i}].content is not valid hex"))?,
            other => return Err(format!("files[{i}].encoding {other:?} is not supported")),
        };
        total += bytes.len();
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("file{i}.code"), str::to_string);
        out_files.push((name, bytes));
    }
    if out_files.is_empty() {
        return Err("files must include at least one utf8 encoded file".into());
    }
    if total > cfg.max_source_bytes {
        return Err(format!(
            "files are larger than {} bytes",
            cfg.max_source_bytes
        ));
    }
    let stdin = body
        .get("stdin")
        .and_then(Value::as_str)
        .unwrap_or("")
        .as_bytes()
        .to_vec();
    if stdin.len() > cfg.max_stdin_bytes {
        return Err(format!(
            "stdin is larger than {} bytes",
            cfg.max_stdin_bytes
        ));
    }
    let args = match body.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(_) => return Err("args must be an array".into()),
    };
    // Limits: milliseconds and bytes, as Piston; maxima from the Judge0 settings.
    let max_wall_ms = (cfg.max_wall_time_limit * 1000.0) as u64;
    let max_cpu_ms = (cfg.max_cpu_time_limit * 1000.0) as u64;
    let max_mem = (cfg.max_memory_limit.max(0) as u64) * 1024;
    let limit = |name: &str, default: u64, max: u64| -> Result<u64, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or(-1.0);
                if v == 0.0 {
                    return Ok(default);
                }
                if v < 0.0 {
                    // -1 = no limit in Piston: the configured maximum here.
                    if v == -1.0 && name.ends_with("memory_limit") {
                        return Ok(max);
                    }
                    return Err(format!("{name} must be non-negative"));
                }
                if v as u64 > max {
                    return Err(format!(
                        "{name} cannot exceed the configured limit of {max}"
                    ));
                }
                Ok(v as u64)
            }
            Some(_) => Err(format!("If specified, {name} must be a number")),
        }
    };
    let procs = cfg.max_max_processes_and_or_threads.max(1) as u64;
    let compile = StageLimits {
        wall: Duration::from_millis(limit(
            "compile_timeout",
            10_000.min(max_wall_ms),
            max_wall_ms,
        )?),
        cpu: Duration::from_millis(limit(
            "compile_cpu_time",
            10_000.min(max_cpu_ms),
            max_cpu_ms,
        )?),
        memory_bytes: limit("compile_memory_limit", max_mem, max_mem)?,
        processes: procs,
        output: cfg.max_output_bytes,
    };
    let run = StageLimits {
        wall: Duration::from_millis(limit("run_timeout", 3_000.min(max_wall_ms), max_wall_ms)?),
        cpu: Duration::from_millis(limit("run_cpu_time", 3_000.min(max_cpu_ms), max_cpu_ms)?),
        memory_bytes: limit("run_memory_limit", max_mem, max_mem)?,
        processes: procs,
        output: cfg.max_output_bytes,
    };
    Ok(Job {
        lang,
        files: out_files,
        stdin,
        args,
        compile,
        run,
    })
}

/// What a job reports as it goes.
enum Progress<'a> {
    Stage(&'static str),
    Data(usize, &'a [u8]),
    Exit(&'static str, &'a StageResult),
}

/// Where the client's stdin and signals go: the running stage's event channel. What arrives
/// before the run stage starts waits in `pending` (a kill also reaches a compile stage).
#[derive(Default)]
struct Slot {
    current: Option<(&'static str, Sender<StageEvent>)>,
    pending: Vec<StageEvent>,
}

type StageInput = Arc<Mutex<Slot>>;

impl Slot {
    fn deliver(&mut self, ev: StageEvent) {
        match &self.current {
            Some(("run", tx)) => {
                let _ = tx.send(ev);
            }
            Some((_, tx)) if matches!(ev, StageEvent::Kill) => {
                let _ = tx.send(StageEvent::Kill);
                self.pending.push(StageEvent::Kill);
            }
            _ => self.pending.push(ev),
        }
    }

    fn start(&mut self, name: &'static str, tx: Sender<StageEvent>) {
        let pending = std::mem::take(&mut self.pending);
        self.current = Some((name, tx));
        for ev in pending {
            self.deliver(ev);
        }
    }
}

/// Compile (when the language compiles) then run; `None` for a stage that did not run.
fn run_job(
    exec: &Executor,
    job: &Job,
    input: Option<&StageInput>,
    emit: &mut dyn FnMut(Progress<'_>),
) -> Result<(Option<StageResult>, Option<StageResult>), String> {
    let dir = exec.prepare_files(&job.lang, &job.files)?;
    let interactive = input.is_some();
    let mut stage = |name: &'static str, script: String, limits: StageLimits, stdin: &[u8]| {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(i) = input
            && let Ok(mut slot) = i.lock()
        {
            slot.start(name, tx.clone());
        }
        emit(Progress::Stage(name));
        let r = exec.stage(
            &job.lang,
            &dir,
            &script,
            limits,
            stdin,
            interactive && name == "run",
            tx,
            rx,
            &mut |s, d| emit(Progress::Data(s, d)),
        );
        if let Some(i) = input
            && let Ok(mut slot) = i.lock()
        {
            slot.current = None;
        }
        emit(Progress::Exit(name, &r));
        r
    };
    let mut compile = None;
    if let Some(cmd) = &job.lang.compile_cmd
        && (!job.lang.is_project || dir.join("compile").is_file())
    {
        let c = stage("compile", cmd.replace("%s", ""), job.compile, b"");
        let failed = c.code != Some(0);
        compile = Some(c);
        if failed {
            remove_job_dir(&dir);
            return Ok((compile, None));
        }
    }
    let args: Vec<String> = job.args.iter().map(|a| shell_quote(a)).collect();
    let run = stage(
        "run",
        format!("exec {} {}", job.lang.run_cmd, args.join(" ")),
        job.run,
        &job.stdin,
    );
    remove_job_dir(&dir);
    Ok((compile, Some(run)))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stage_json(r: &StageResult) -> Value {
    json!({
        "stdout": text(&r.stdout),
        "stderr": text(&r.stderr),
        "output": text(&r.output),
        "code": r.code,
        "signal": r.signal.map(signal_name),
        "message": r.message,
        "status": r.status,
        "cpu_time": r.cpu_ms,
        "wall_time": r.wall_ms,
        "memory": r.memory_bytes,
    })
}

fn bad_request(msg: String) -> Response {
    reply(StatusCode::BAD_REQUEST, json!({ "message": msg }))
}

async fn execute(State(p): State<Arc<Piston>>, body: Bytes) -> Response {
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("invalid JSON body: {e}")),
    };
    let job = match get_job(&p, &v) {
        Ok(j) => j,
        Err(m) => return bad_request(m),
    };
    let Ok(_permit) = p.slots.acquire().await else {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "shutting down"}),
        );
    };
    let p2 = p.clone();
    let out = tokio::task::spawn_blocking(move || {
        let r = run_job(&p2.exec, &job, None, &mut |_| {});
        (job, r)
    })
    .await;
    match out {
        Ok((job, Ok((compile, run)))) => {
            // Piston: when the run stage did not start, `run` is the compile stage.
            let run = run.or_else(|| compile.clone()).unwrap_or_default();
            let mut v = json!({
                "language": job.lang.piston.first().cloned().unwrap_or_default(),
                "version": version_of(&job.lang),
                "run": stage_json(&run),
            });
            if let Some(c) = &compile {
                v["compile"] = stage_json(c);
            }
            reply(StatusCode::OK, v)
        }
        Ok((_, Err(e))) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": e})),
        Err(e) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": e.to_string()}),
        ),
    }
}

async fn connect(State(p): State<Arc<Piston>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| session(p, socket))
        .into_response()
}

async fn close(ws: &mut futures_util::stream::SplitSink<WebSocket, Message>, code: u16, why: &str) {
    let _ = ws
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: why.to_string().into(),
        })))
        .await;
}

/// One interactive session: init, then output streamed out and stdin streamed in.
async fn session(p: Arc<Piston>, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let first = tokio::time::timeout(Duration::from_secs(5), rx.next()).await;
    let init: Value = match first {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str(&t) {
            Ok(v) => v,
            Err(e) => {
                let _ = tx
                    .send(Message::Text(
                        json!({"type": "error", "message": e.to_string()})
                            .to_string()
                            .into(),
                    ))
                    .await;
                return close(&mut tx, 4002, "Notified Error").await;
            }
        },
        Ok(_) => return,
        Err(_) => return close(&mut tx, 4001, "Initialization Timeout").await,
    };
    if init.get("type").and_then(Value::as_str) != Some("init") {
        return close(&mut tx, 4003, "Not yet initialized").await;
    }
    let job = match get_job(&p, &init) {
        Ok(j) => j,
        Err(m) => {
            let _ = tx
                .send(Message::Text(
                    json!({"type": "error", "message": m}).to_string().into(),
                ))
                .await;
            return close(&mut tx, 4002, "Notified Error").await;
        }
    };
    let Ok(permit) = p.slots.clone().acquire_owned().await else {
        return close(&mut tx, 1011, "shutting down").await;
    };
    let _ = tx
        .send(Message::Text(
            json!({"type": "runtime", "language": job.lang.piston[0], "version": version_of(&job.lang)})
                .to_string()
                .into(),
        ))
        .await;
    let input: StageInput = Arc::new(Mutex::new(Slot::default()));
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let exec = p.exec.clone();
    let input2 = input.clone();
    let worker = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let send = |v: Value| {
            let _ = out_tx.send(v.to_string());
        };
        let r = run_job(&exec, &job, Some(&input2), &mut |ev| match ev {
            Progress::Stage(s) => send(json!({"type": "stage", "stage": s})),
            Progress::Data(stream, d) => send(json!({
                "type": "data",
                "stream": if stream == 0 { "stdout" } else { "stderr" },
                "data": text(d),
            })),
            Progress::Exit(stage, r) => send(json!({
                "type": "exit",
                "stage": stage,
                "code": r.code,
                "signal": r.signal.map(signal_name),
                "status": r.status,
                "message": r.message,
            })),
        });
        if let Err(e) = r {
            send(json!({"type": "error", "message": e}));
        }
    });
    let to_stage = |ev: StageEvent| {
        if let Ok(mut slot) = input.lock() {
            slot.deliver(ev);
        }
    };
    loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(s) => {
                    if tx.send(Message::Text(s.into())).await.is_err() {
                        to_stage(StageEvent::Kill);
                    }
                }
                None => {
                    close(&mut tx, 4999, "Job Completed").await;
                    break;
                }
            },
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    match v.get("type").and_then(Value::as_str) {
                        Some("data") if v.get("stream").and_then(Value::as_str) == Some("stdin") => {
                            let d = v.get("data").and_then(Value::as_str).unwrap_or("");
                            to_stage(StageEvent::Stdin(d.as_bytes().to_vec()));
                        }
                        // runcell's extension: end of the program's stdin (Piston has none).
                        Some("eof") => to_stage(StageEvent::CloseStdin),
                        Some("data") => {
                            to_stage(StageEvent::Kill);
                            close(&mut tx, 4004, "Can only write to stdin").await;
                            break;
                        }
                        Some("signal") => {
                            let sig = v.get("signal").and_then(Value::as_str).unwrap_or("");
                            if matches!(sig, "SIGKILL" | "SIGTERM" | "SIGINT" | "SIGQUIT" | "SIGHUP") {
                                to_stage(StageEvent::Kill);
                            } else {
                                to_stage(StageEvent::Kill);
                                close(&mut tx, 4005, "Invalid signal").await;
                                break;
                            }
                        }
                        Some("init") => {
                            to_stage(StageEvent::Kill);
                            close(&mut tx, 4000, "Already Initialized").await;
                            break;
                        }
                        _ => {
                            let _ = tx
                                .send(Message::Text(json!({"type": "error", "message": "unknown message"}).to_string().into()))
                                .await;
                            to_stage(StageEvent::Kill);
                            close(&mut tx, 4002, "Notified Error").await;
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    // The client left: end its program.
                    to_stage(StageEvent::Kill);
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    // A pending kill reaches every stage still to start; wait for the job's thread.
    let _ = worker.await;
}
