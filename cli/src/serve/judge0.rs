//! The Judge0 CE 1.13.1 HTTP API.

// Handlers return `Response` on both paths; boxing the error side buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::config::Config;
use super::files::{ZipLimits, extract};
use super::languages::Languages;
use super::metrics::Metrics;
use super::model::{
    Errors, STATUSES, Submission, parse_fields, parse_submission, status, status_name,
};
use super::queue::worker::Hub;
use super::store::Store;

/// Version reported by /about (what Judge0 clients check).
pub const JUDGE0_VERSION: &str = "1.13.1";

/// State shared by the handlers.
pub struct App {
    pub cfg: Config,
    pub store: Arc<dyn Store>,
    pub langs: Arc<Languages>,
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
    /// How often `wait=true` reads its submission again without a wake-up: a fallback where
    /// finished jobs notify (in-process workers, PostgreSQL's `LISTEN`), the way to see
    /// other processes' results where they do not.
    pub wait_poll: Duration,
    /// The preloaded Python cells of this process, if any (their counters go to /metrics).
    pub warm: Option<Arc<super::execute::WarmPython>>,
}

type Shared = Arc<App>;
type Q = Query<HashMap<String, String>>;

/// A JSON response.
pub fn reply(code: StatusCode, v: Value) -> Response {
    (code, axum::Json(v)).into_response()
}

fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    reply(code, json!({ "error": msg.into() }))
}

fn unprocessable(e: &Errors) -> Response {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        serde_json::to_value(e).unwrap_or(Value::Null),
    )
}

/// Run a store call off the async threads.
async fn blocking<T: Send + 'static>(
    app: &Shared,
    f: impl FnOnce(&dyn Store) -> super::store::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let store = app.store.clone();
    match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
        Ok(Ok(v)) => Ok(v),
        // The database is restarting or unreachable: 503, which clients retry, as Judge0
        // answers when its queue cannot take work.
        Ok(Err(e)) if e.is_unavailable() => {
            tracing::warn!(error = %e, "store");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true")
}

const NOT_UTF8: &str = "some attributes for this submission cannot be converted to UTF-8, use \
    base64_encoded=true query parameter";

/// The routes of the Judge0 API.
pub fn routes(app: Shared) -> Router {
    Router::new()
        .route("/submissions", get(index).post(create))
        .route("/submissions/batch", get(batch_show).post(batch_create))
        .route("/submissions/{token}", get(show).delete(destroy))
        .route("/languages", get(languages))
        .route("/languages/all", get(languages_all))
        .route("/languages/{id}", get(language))
        .route("/statuses", get(statuses))
        .route("/about", get(about))
        .route("/version", get(|| async { JUDGE0_VERSION }))
        .route("/config_info", get(config_info))
        .route("/system_info", get(system_info))
        .route("/workers", get(workers))
        .route("/statistics", get(statistics))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            authenticate,
        ))
        .with_state(app)
}

/// X-Auth-Token on every request (when configured); X-Auth-User on listing and deleting.
async fn authenticate(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let header =
        |h: &HeaderMap, k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(t) = &app.cfg.authn_token
        && header(req.headers(), "x-auth-token").as_deref() != Some(t.as_str())
    {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    if let Some(t) = &app.cfg.authz_token {
        let path = req.uri().path();
        let guarded = (path == "/submissions" && req.method() == axum::http::Method::GET)
            || req.method() == axum::http::Method::DELETE;
        if guarded && header(req.headers(), "x-auth-user").as_deref() != Some(t.as_str()) {
            return error(StatusCode::FORBIDDEN, "authorization failed");
        }
    }
    next.run(req).await
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// Judge0 validation plus the additional_files checks and the optional analyzer gate.
fn validate(app: &App, v: &Value, base64: bool) -> Result<Submission, Errors> {
    let s = parse_submission(v, base64, &app.cfg, &app.langs)?;
    let mut e = Errors::new();
    if let Some(z) = &s.additional_files {
        let lim = ZipLimits {
            max_bytes: (app.cfg.max_extract_size.max(0) as u64) * 1024,
            max_entries: app.cfg.max_extract_files,
        };
        if let Err(msg) = extract(z, None, lim) {
            e.entry("additional_files".into()).or_default().push(msg);
        }
    }
    #[cfg(feature = "analyze")]
    if app.cfg.analyze_python
        && app
            .langs
            .get(s.language_id)
            .is_some_and(|l| l.profile == "python")
    {
        let src = String::from_utf8_lossy(s.source_code.as_deref().unwrap_or_default());
        let report = runcell::analyze::python(&src, &runcell::analyze::Rules::default());
        if report.is_blocking() {
            let msgs = report
                .findings
                .iter()
                .filter(|f| f.severity >= runcell::analyze::Severity::Warning)
                .map(|f| {
                    format!(
                        "refused by the static analyzer: rule {} at line {}: {}",
                        f.rule, f.line, f.message
                    )
                })
                .collect();
            e.insert("source_code".into(), msgs);
        }
    }
    if e.is_empty() { Ok(s) } else { Err(e) }
}

async fn queue_full(app: &Shared, n: i64) -> Result<(), Response> {
    let depth = blocking(app, |s| s.queue_depth()).await?;
    if depth + n > app.cfg.max_queue_size as i64 {
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, "queue is full"));
    }
    Ok(())
}

async fn create(State(app): State<Shared>, q: Q, body: Bytes) -> Response {
    let base64 = flag(&q, "base64_encoded");
    let wait = flag(&q, "wait");
    if wait && !app.cfg.enable_wait_result {
        return error(StatusCode::BAD_REQUEST, "wait not allowed");
    }
    let fields = match parse_fields(q.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    // Parsed and validated first (no store call), answered in Judge0's order: a full queue
    // (503) before a malformed (400) or invalid (422) body.
    let sub = match parse_body(&body)
        .and_then(|v| validate(&app, &v, base64).map_err(|e| unprocessable(&e)))
    {
        Ok(s) => s,
        Err(r) => {
            if let Err(full) = queue_full(&app, 1).await {
                return full;
            }
            return r;
        }
    };
    let token = sub.token.clone();
    let waiter = wait.then(|| app.hub.watch(&token));
    // What `wait=true` answers if the store stops answering after the insert.
    let mut last = wait.then(|| sub.clone());
    // The queue's depth checked and the submission stored in one call off the async threads.
    let max = app.cfg.max_queue_size as i64;
    let stored = blocking(&app, move |s| {
        if s.queue_depth()? + 1 > max {
            return Ok(false);
        }
        s.insert(&[sub]).map(|()| true)
    })
    .await;
    match stored {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::SERVICE_UNAVAILABLE, "queue is full"),
        Err(r) => return r,
    }
    app.hub.jobs_added();
    if !wait {
        return reply(StatusCode::CREATED, json!({ "token": token }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(app.cfg.wait_timeout_secs);
    let poll = app.wait_poll;
    // The job was queued a moment ago: wait for its wake-up (or the poll interval) before the
    // first read rather than reading a row that is certainly still queued.
    if let Some(w) = &waiter {
        let _ = tokio::time::timeout(poll, w.finished()).await;
    }
    loop {
        let t = token.clone();
        let store = app.store.clone();
        // The submission is queued: a database outage from here on is waited out (up to the
        // deadline) rather than answered with an error the client would take for a refusal.
        let sub = match tokio::task::spawn_blocking(move || store.get(&t)).await {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => return error(StatusCode::NOT_FOUND, "not found"),
            Ok(Err(e)) if e.is_unavailable() => {
                tracing::warn!(error = %e, token = %token, "store (waiting for a result)");
                match last.clone() {
                    Some(s) => s,
                    None => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
                }
            }
            Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        last = Some(sub.clone());
        let done = sub.status_id > status::PROCESSING;
        if done || tokio::time::Instant::now() >= deadline {
            return match sub.to_json(&fields, base64, &app.langs) {
                Ok(v) => reply(StatusCode::CREATED, v),
                Err(_) => reply(
                    StatusCode::CREATED,
                    json!({"error": NOT_UTF8, "token": token}),
                ),
            };
        }
        if let Some(w) = &waiter {
            let _ = tokio::time::timeout(poll, w.finished()).await;
        }
    }
}

async fn show(State(app): State<Shared>, Path(token): Path<String>, q: Q) -> Response {
    let base64 = flag(&q, "base64_encoded");
    let fields = match parse_fields(q.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match blocking(&app, move |s| s.get(&token)).await {
        Ok(Some(s)) => match s.to_json(&fields, base64, &app.langs) {
            Ok(v) => reply(StatusCode::OK, v),
            Err(_) => error(StatusCode::BAD_REQUEST, NOT_UTF8),
        },
        Ok(None) => error(StatusCode::NOT_FOUND, "not found"),
        Err(r) => r,
    }
}

async fn destroy(State(app): State<Shared>, Path(token): Path<String>, q: Q) -> Response {
    if !app.cfg.enable_submission_delete {
        return error(StatusCode::BAD_REQUEST, "delete not allowed");
    }
    let fields = match parse_fields(q.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let t = token.clone();
    let sub = match blocking(&app, move |s| s.get(&t)).await {
        Ok(Some(s)) => s,
        Ok(None) => return error(StatusCode::NOT_FOUND, "not found"),
        Err(r) => return r,
    };
    if sub.status_id <= status::PROCESSING {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "submission cannot be deleted because its status is {} ({})",
                sub.status_id,
                status_name(sub.status_id)
            ),
        );
    }
    if let Err(r) = blocking(&app, move |s| s.delete(&token)).await {
        return r;
    }
    match sub.to_json(&fields, true, &app.langs) {
        Ok(v) => reply(StatusCode::OK, v),
        Err(_) => error(StatusCode::BAD_REQUEST, NOT_UTF8),
    }
}

async fn index(State(app): State<Shared>, q: Q) -> Response {
    let base64 = flag(&q, "base64_encoded");
    let fields = match parse_fields(q.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let page: i64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let per_page: i64 = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
    if page <= 0 {
        return error(StatusCode::BAD_REQUEST, format!("invalid page: {page}"));
    }
    if per_page < 0 {
        return error(
            StatusCode::BAD_REQUEST,
            format!("invalid per_page: {per_page}"),
        );
    }
    let per_page = per_page.min(1000);
    let (subs, total) = match blocking(&app, move |s| s.list(page, per_page)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut out = Vec::new();
    for s in &subs {
        match s.to_json(&fields, base64, &app.langs) {
            Ok(v) => out.push(v),
            Err(_) => return error(StatusCode::BAD_REQUEST, NOT_UTF8),
        }
    }
    let total_pages = if per_page == 0 {
        0
    } else {
        (total + per_page - 1) / per_page
    };
    reply(
        StatusCode::OK,
        json!({
            "submissions": out,
            "meta": {
                "current_page": page,
                "next_page": if page < total_pages { Some(page + 1) } else { None },
                "prev_page": if page > 1 { Some(page - 1) } else { None },
                "total_pages": total_pages,
                "total_count": total,
            }
        }),
    )
}

async fn batch_create(State(app): State<Shared>, q: Q, body: Bytes) -> Response {
    if !app.cfg.enable_batched_submissions {
        return error(
            StatusCode::BAD_REQUEST,
            "batched submissions are not allowed",
        );
    }
    let base64 = flag(&q, "base64_encoded");
    let v = match parse_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let items = v
        .get("submissions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let max = app.cfg.max_submission_batch_size;
    if items.len() > max {
        return error(
            StatusCode::BAD_REQUEST,
            format!("number of submissions in a batch should be less than or equal to {max}"),
        );
    }
    if items.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "there should be at least one submission in a batch",
        );
    }
    if let Err(r) = queue_full(&app, items.len() as i64).await {
        return r;
    }
    let mut response = Vec::new();
    let mut valid = Vec::new();
    for item in &items {
        match validate(&app, item, base64) {
            Ok(s) => {
                response.push(json!({ "token": s.token }));
                valid.push(s);
            }
            Err(e) => response.push(serde_json::to_value(&e).unwrap_or(Value::Null)),
        }
    }
    let any = !valid.is_empty();
    if any {
        if let Err(r) = blocking(&app, move |s| s.insert(&valid)).await {
            return r;
        }
        app.hub.jobs_added();
    }
    reply(
        if any {
            StatusCode::CREATED
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        },
        Value::Array(response),
    )
}

async fn batch_show(State(app): State<Shared>, headers: HeaderMap, q: Q) -> Response {
    if !app.cfg.enable_batched_submissions {
        return error(
            StatusCode::BAD_REQUEST,
            "batched submissions are not allowed",
        );
    }
    let base64 = flag(&q, "base64_encoded");
    let fields = match parse_fields(q.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let raw = headers
        .get("tokens")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("tokens").cloned())
        .unwrap_or_default();
    let tokens: Vec<String> = raw
        .trim()
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let max = app.cfg.max_submission_batch_size;
    if tokens.len() > max {
        return error(
            StatusCode::BAD_REQUEST,
            format!("number of submissions in a batch should be less than or equal to {max}"),
        );
    }
    if tokens.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "there should be at least one submission in a batch",
        );
    }
    let t = tokens.clone();
    let found = match blocking(&app, move |s| s.get_many(&t)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut out = Vec::new();
    for t in &tokens {
        match found.iter().find(|s| &s.token == t) {
            Some(s) => match s.to_json(&fields, base64, &app.langs) {
                Ok(v) => out.push(v),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "some attributes for one or more submissions cannot be converted to \
                         UTF-8, use base64_encoded=true query parameter",
                    );
                }
            },
            None => out.push(Value::Null),
        }
    }
    reply(StatusCode::OK, json!({ "submissions": out }))
}

async fn languages(State(app): State<Shared>) -> Response {
    let v: Vec<Value> = app
        .langs
        .all()
        .iter()
        .map(|l| json!({"id": l.id, "name": l.name}))
        .collect();
    reply(StatusCode::OK, Value::Array(v))
}

async fn languages_all(State(app): State<Shared>) -> Response {
    let v: Vec<Value> = app
        .langs
        .all()
        .iter()
        .map(|l| json!({"id": l.id, "name": l.name, "is_archived": false}))
        .collect();
    reply(StatusCode::OK, Value::Array(v))
}

async fn language(State(app): State<Shared>, Path(id): Path<String>) -> Response {
    let l = id.parse::<i64>().ok().and_then(|id| app.langs.get(id));
    match l {
        Some(l) => reply(
            StatusCode::OK,
            json!({
                "id": l.id,
                "name": l.name,
                "is_archived": false,
                "source_file": if l.is_project { None } else { Some(&l.source_file) },
                "compile_cmd": l.compile_cmd,
                "run_cmd": l.run_cmd,
            }),
        ),
        None => error(StatusCode::NOT_FOUND, "not found"),
    }
}

async fn statuses() -> Response {
    let v: Vec<Value> = STATUSES
        .iter()
        .map(|(id, d)| json!({"id": id, "description": d}))
        .collect();
    reply(StatusCode::OK, Value::Array(v))
}

async fn about() -> Response {
    reply(
        StatusCode::OK,
        json!({
            "version": JUDGE0_VERSION,
            "homepage": "https://github.com/judge0/judge0",
            "source_code": "https://github.com/judge0/judge0",
            "maintainer": "runcell (Judge0-compatible API served by `runcell serve`)",
        }),
    )
}

async fn config_info(State(app): State<Shared>) -> Response {
    reply(StatusCode::OK, app.cfg.config_info())
}

async fn system_info() -> Response {
    let mut m = serde_json::Map::new();
    m.insert("Architecture".into(), json!(std::env::consts::ARCH));
    m.insert(
        "CPU(s)".into(),
        json!(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string()
        ),
    );
    if let Ok(cpu) = std::fs::read_to_string("/proc/cpuinfo")
        && let Some(name) = cpu
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
    {
        m.insert("Model name".into(), json!(name.1.trim()));
    }
    if let Ok(mem) = std::fs::read_to_string("/proc/meminfo")
        && let Some(total) = mem
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_once(':'))
    {
        m.insert("Mem".into(), json!(total.1.trim()));
    }
    if let Ok(k) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        m.insert("Kernel".into(), json!(k.trim()));
    }
    reply(StatusCode::OK, Value::Object(m))
}

async fn workers(State(app): State<Shared>) -> Response {
    let stale = app.cfg.lease();
    let r = blocking(&app, move |s| {
        Ok((s.workers(stale)?, s.queue_depth()?, s.processing()?))
    })
    .await;
    match r {
        Ok((ws, depth, _)) => {
            let alive: Vec<_> = ws.iter().filter(|w| w.alive).collect();
            let threads: i64 = alive.iter().map(|w| w.threads).sum();
            let working: i64 = alive.iter().map(|w| w.running).sum();
            reply(
                StatusCode::OK,
                json!([{
                    "queue": JUDGE0_VERSION,
                    "size": depth,
                    "available": threads,
                    "idle": (threads - working).max(0),
                    "working": working,
                    "paused": 0,
                    "failed": 0,
                    "workers": ws,
                }]),
            )
        }
        Err(r) => r,
    }
}

async fn statistics(State(app): State<Shared>) -> Response {
    let st = match blocking(&app, |s| s.stats()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let now = super::model::format_time(super::model::now_micros());
    let langs: Vec<Value> = st
        .by_language
        .iter()
        .map(|(id, n)| {
            json!({
                "language": {"id": id, "name": app.langs.get(*id).map_or("", |l| l.name.as_str())},
                "count": n,
            })
        })
        .collect();
    let stats: Vec<Value> = st
        .by_status
        .iter()
        .map(|(id, n)| json!({"status": {"id": id, "name": status_name(*id)}, "count": n}))
        .collect();
    reply(
        StatusCode::OK,
        json!({
            "now": now,
            "submissions": {"total": st.total, "today": st.today, "last_30_days": st.last_30_days},
            "languages": langs,
            "statuses": stats,
        }),
    )
}

async fn metrics(State(app): State<Shared>) -> Response {
    let stale = app.cfg.lease();
    let r = blocking(&app, move |s| {
        Ok((s.queue_depth()?, s.processing()?, s.workers(stale)?))
    })
    .await;
    match r {
        Ok((q, p, w)) => {
            let alive = w.iter().filter(|w| w.alive).count() as i64;
            let mut text = app.metrics.render(q, p, alive);
            if let Some(warm) = &app.warm {
                let st = warm.stats();
                text.push_str(&format!(
                    "# HELP runcell_warm_cells_ready Preloaded Python cells ready.\n\
                     # TYPE runcell_warm_cells_ready gauge\n\
                     runcell_warm_cells_ready {}\n\
                     # HELP runcell_warm_runs_total Runs in a warm cell: ready (warm) or set \
                     up on the spot (cold).\n\
                     # TYPE runcell_warm_runs_total counter\n\
                     runcell_warm_runs_total{{cell=\"ready\"}} {}\n\
                     runcell_warm_runs_total{{cell=\"on_the_spot\"}} {}\n\
                     # HELP runcell_warm_setup_failures_total Warm cells whose setup failed.\n\
                     # TYPE runcell_warm_setup_failures_total counter\n\
                     runcell_warm_setup_failures_total {}\n",
                    st.ready, st.warm_runs, st.cold_runs, st.setup_failures
                ));
            }
            (
                StatusCode::OK,
                [("content-type", "text/plain; version=0.0.4")],
                text,
            )
                .into_response()
        }
        Err(r) => r,
    }
}
