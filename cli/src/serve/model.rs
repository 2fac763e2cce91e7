//! Judge0 submissions: the stored record, request parsing and validation (Judge0's rules and
//! error shapes), statuses, and the response serialization (fields, base64, decimals).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::config::Config;
use super::languages::Languages;

/// Judge0 status ids and descriptions.
pub const STATUSES: &[(i64, &str)] = &[
    (1, "In Queue"),
    (2, "Processing"),
    (3, "Accepted"),
    (4, "Wrong Answer"),
    (5, "Time Limit Exceeded"),
    (6, "Compilation Error"),
    (7, "Runtime Error (SIGSEGV)"),
    (8, "Runtime Error (SIGXFSZ)"),
    (9, "Runtime Error (SIGFPE)"),
    (10, "Runtime Error (SIGABRT)"),
    (11, "Runtime Error (NZEC)"),
    (12, "Runtime Error (Other)"),
    (13, "Internal Error"),
    (14, "Exec Format Error"),
];

/// Status ids by name.
pub mod status {
    pub const IN_QUEUE: i64 = 1;
    pub const PROCESSING: i64 = 2;
    pub const ACCEPTED: i64 = 3;
    pub const WRONG_ANSWER: i64 = 4;
    pub const TLE: i64 = 5;
    pub const COMPILE_ERROR: i64 = 6;
    pub const SIGSEGV: i64 = 7;
    pub const SIGXFSZ: i64 = 8;
    pub const SIGFPE: i64 = 9;
    pub const SIGABRT: i64 = 10;
    pub const NZEC: i64 = 11;
    pub const OTHER: i64 = 12;
    pub const INTERNAL: i64 = 13;
    pub const EXEC_FORMAT: i64 = 14;
}

/// A status id's description.
pub fn status_name(id: i64) -> &'static str {
    STATUSES
        .iter()
        .find(|(i, _)| *i == id)
        .map_or("Unknown", |(_, n)| n)
}

/// Judge0's status for a run killed by `signal`.
pub fn status_for_signal(signal: i32) -> i64 {
    match signal {
        11 => status::SIGSEGV,
        25 => status::SIGXFSZ,
        8 => status::SIGFPE,
        6 => status::SIGABRT,
        _ => status::OTHER,
    }
}

/// One submission: what was asked (inputs) and, once run, what happened (results).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Submission {
    pub token: String,
    pub source_code: Option<Vec<u8>>,
    pub language_id: i64,
    pub compiler_options: Option<String>,
    pub command_line_arguments: Option<String>,
    pub stdin: Option<Vec<u8>>,
    pub expected_output: Option<Vec<u8>>,
    pub number_of_runs: i64,
    pub cpu_time_limit: f64,
    pub cpu_extra_time: f64,
    pub wall_time_limit: f64,
    pub memory_limit: i64,
    pub stack_limit: i64,
    pub max_processes_and_or_threads: i64,
    pub enable_per_process_and_thread_time_limit: bool,
    pub enable_per_process_and_thread_memory_limit: bool,
    pub max_file_size: i64,
    pub redirect_stderr_to_stdout: bool,
    pub enable_network: bool,
    pub callback_url: Option<String>,
    pub additional_files: Option<Vec<u8>>,
    pub status_id: i64,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub time: Option<f64>,
    pub wall_time: Option<f64>,
    pub memory: Option<i64>,
    pub stdout: Option<Vec<u8>>,
    pub stderr: Option<Vec<u8>>,
    pub compile_output: Option<Vec<u8>>,
    pub exit_code: Option<i64>,
    pub exit_signal: Option<i64>,
    pub message: Option<String>,
}

/// The results a worker writes back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    pub status_id: i64,
    pub time: Option<f64>,
    pub wall_time: Option<f64>,
    pub memory: Option<i64>,
    pub stdout: Option<Vec<u8>>,
    pub stderr: Option<Vec<u8>>,
    pub compile_output: Option<Vec<u8>>,
    pub exit_code: Option<i64>,
    pub exit_signal: Option<i64>,
    pub message: Option<String>,
}

impl RunResult {
    /// An Internal Error with a message.
    pub fn internal(message: impl Into<String>) -> RunResult {
        RunResult {
            status_id: status::INTERNAL,
            message: Some(message.into()),
            ..Default::default()
        }
    }
}

/// Current time in microseconds since the epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `%Y-%m-%dT%H:%M:%S.%fZ` (microseconds, UTC): what Judge0 sends and the SDK parses.
pub fn format_time(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{frac:06}Z")
}

/// A decimal as Rails serializes a BigDecimal: `"0.012"`, `"5.0"` (milliseconds precision).
pub fn decimal(v: f64) -> String {
    let s = format!("{v:.3}");
    let t = s.trim_end_matches('0');
    if t.ends_with('.') {
        format!("{t}0")
    } else {
        t.to_string()
    }
}

/// Judge0's output comparison: trailing whitespace of each line and of the text ignored.
pub fn outputs_match(expected: &[u8], actual: &[u8]) -> bool {
    fn norm(b: &[u8]) -> String {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.split('\n').map(str::trim_end).collect();
        lines.join("\n").trim_end().to_string()
    }
    norm(expected) == norm(actual)
}

/// All response fields of a submission (`fields=*`), in Judge0's order.
pub const ALL_FIELDS: &[&str] = &[
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "wall_time",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
];

/// Judge0's default response fields.
pub const DEFAULT_FIELDS: &[&str] = &[
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
];

/// Parse the `fields` query parameter: `Err` lists the invalid names (Judge0's 400).
pub fn parse_fields(param: Option<&str>) -> Result<Vec<&'static str>, String> {
    let Some(p) = param.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(DEFAULT_FIELDS.to_vec());
    };
    if p == "*" {
        return Ok(ALL_FIELDS.to_vec());
    }
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for f in p.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match ALL_FIELDS.iter().find(|a| **a == f) {
            Some(a) => {
                if !out.contains(a) {
                    out.push(*a);
                }
            }
            None => bad.push(f.to_string()),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(format!("invalid fields: [{}]", bad.join(", ")))
    }
}

/// Serialization failed because a text is not UTF-8 and base64 was not asked for.
#[derive(Debug)]
pub struct NotUtf8;

fn text(v: &Option<Vec<u8>>, base64: bool) -> Result<Value, NotUtf8> {
    match v {
        None => Ok(Value::Null),
        Some(b) if base64 => Ok(Value::String(B64.encode(b))),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Ok(Value::String(s.to_string())),
            Err(_) => Err(NotUtf8),
        },
    }
}

fn opt_str(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

impl Submission {
    /// The response object with `fields`.
    pub fn to_json(
        &self,
        fields: &[&str],
        base64: bool,
        langs: &Languages,
    ) -> Result<Value, NotUtf8> {
        let mut m = Map::new();
        for f in fields {
            let v = match *f {
                "source_code" => text(&self.source_code, base64)?,
                "language_id" => json!(self.language_id),
                "stdin" => text(&self.stdin, base64)?,
                "expected_output" => text(&self.expected_output, base64)?,
                "stdout" => text(&self.stdout, base64)?,
                "status_id" => json!(self.status_id),
                "created_at" => json!(format_time(self.created_at)),
                "finished_at" => self
                    .finished_at
                    .map_or(Value::Null, |t| json!(format_time(t))),
                "time" => self.time.map_or(Value::Null, |t| json!(decimal(t))),
                "memory" => json!(self.memory),
                "stderr" => text(&self.stderr, base64)?,
                "token" => json!(self.token),
                "number_of_runs" => json!(self.number_of_runs),
                "cpu_time_limit" => json!(decimal(self.cpu_time_limit)),
                "cpu_extra_time" => json!(decimal(self.cpu_extra_time)),
                "wall_time_limit" => json!(decimal(self.wall_time_limit)),
                "memory_limit" => json!(self.memory_limit),
                "stack_limit" => json!(self.stack_limit),
                "max_processes_and_or_threads" => json!(self.max_processes_and_or_threads),
                "enable_per_process_and_thread_time_limit" => {
                    json!(self.enable_per_process_and_thread_time_limit)
                }
                "enable_per_process_and_thread_memory_limit" => {
                    json!(self.enable_per_process_and_thread_memory_limit)
                }
                "max_file_size" => json!(self.max_file_size),
                "compile_output" => text(&self.compile_output, base64)?,
                "exit_code" => json!(self.exit_code),
                "exit_signal" => json!(self.exit_signal),
                "message" => match (&self.message, base64) {
                    (Some(s), true) => json!(B64.encode(s)),
                    (m, _) => opt_str(m),
                },
                "wall_time" => self.wall_time.map_or(Value::Null, |t| json!(decimal(t))),
                "compiler_options" => opt_str(&self.compiler_options),
                "command_line_arguments" => opt_str(&self.command_line_arguments),
                "redirect_stderr_to_stdout" => json!(self.redirect_stderr_to_stdout),
                "callback_url" => opt_str(&self.callback_url),
                // Judge0 always base64-encodes the zip.
                "additional_files" => self
                    .additional_files
                    .as_ref()
                    .map_or(Value::Null, |b| json!(B64.encode(b))),
                "enable_network" => json!(self.enable_network),
                "status" => {
                    json!({"id": self.status_id, "description": status_name(self.status_id)})
                }
                "language" => json!({
                    "id": self.language_id,
                    "name": langs.get(self.language_id).map_or("", |l| l.name.as_str()),
                }),
                _ => continue,
            };
            m.insert((*f).to_string(), v);
        }
        Ok(Value::Object(m))
    }
}

/// Judge0's validation errors: attribute -> messages (the 422 body).
pub type Errors = BTreeMap<String, Vec<String>>;

fn add(errors: &mut Errors, k: &str, msg: impl Into<String>) {
    errors.entry(k.to_string()).or_default().push(msg.into());
}

/// A number given as a JSON number or a numeric string; `Err` for anything else.
fn number(v: &Value) -> Result<Option<f64>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_f64().map(Some).ok_or(()),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s.trim().parse::<f64>().map(Some).map_err(|_| ()),
        _ => Err(()),
    }
}

fn boolean(v: &Value) -> Result<Option<bool>, ()> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(()),
        },
        Value::Number(n) => Ok(Some(n.as_i64() != Some(0))),
        _ => Err(()),
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Decode base64 the way Judge0 does (padding optional, newlines ignored).
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(clean.as_bytes()).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(clean.trim_end_matches('=').as_bytes())
            .ok()
    })
}

/// Build a new submission from a request body, with Judge0's defaults and validation.
pub fn parse_submission(
    body: &Value,
    base64: bool,
    cfg: &Config,
    langs: &Languages,
) -> Result<Submission, Errors> {
    let mut e = Errors::new();
    let Some(obj) = body.as_object() else {
        add(&mut e, "submission", "must be a JSON object");
        return Err(e);
    };
    let get = |k: &str| obj.get(k).unwrap_or(&Value::Null);
    let blob = |k: &str, decode: bool, max: usize, e: &mut Errors| -> Option<Vec<u8>> {
        let v = get(k);
        let s = match v {
            Value::Null => return None,
            other => match string(other) {
                Some(s) => s,
                None => {
                    add(e, k, "must be a string");
                    return None;
                }
            },
        };
        let bytes = if decode {
            match decode_b64(&s) {
                Some(b) => b,
                None => {
                    add(e, k, "is not valid base64");
                    return None;
                }
            }
        } else {
            s.into_bytes()
        };
        if bytes.len() > max {
            add(e, k, format!("is too long (maximum is {max} bytes)"));
            return None;
        }
        Some(bytes)
    };
    let source_code = blob("source_code", base64, cfg.max_source_bytes, &mut e);
    let stdin = blob("stdin", base64, cfg.max_stdin_bytes, &mut e);
    let expected_output = blob("expected_output", base64, cfg.max_stdin_bytes, &mut e);
    // Judge0 always expects additional_files in base64.
    let additional_files = blob(
        "additional_files",
        true,
        (cfg.max_extract_size.max(0) as usize) * 1024,
        &mut e,
    );

    let num = |k: &str, e: &mut Errors| -> Option<f64> {
        match number(get(k)) {
            Ok(v) => v,
            Err(()) => {
                add(e, k, "is not a number");
                None
            }
        }
    };
    let flag = |k: &str, e: &mut Errors| -> Option<bool> {
        match boolean(get(k)) {
            Ok(v) => v,
            Err(()) => {
                add(e, k, "is not a boolean");
                None
            }
        }
    };
    let range = |k: &str, v: f64, lo: f64, lo_incl: bool, hi: f64, e: &mut Errors| {
        if lo_incl && v < lo {
            add(
                e,
                k,
                format!("must be greater than or equal to {}", fmt_num(lo)),
            );
        } else if !lo_incl && v <= lo {
            add(e, k, format!("must be greater than {}", fmt_num(lo)));
        }
        if v > hi {
            add(
                e,
                k,
                format!("must be less than or equal to {}", fmt_num(hi)),
            );
        }
    };

    let language_id = match number(get("language_id")) {
        Ok(Some(v)) => Some(v as i64),
        Ok(None) => {
            add(&mut e, "language_id", "can't be blank");
            None
        }
        Err(()) => {
            add(&mut e, "language_id", "is not a number");
            None
        }
    };
    let lang = language_id.and_then(|id| langs.get(id));
    if let (Some(id), None) = (language_id, lang) {
        add(
            &mut e,
            "language_id",
            format!("language with id {id} doesn't exist"),
        );
    }
    let is_project = lang.is_some_and(|l| l.is_project);
    if is_project {
        if source_code.as_ref().is_some_and(|s| !s.is_empty()) {
            add(&mut e, "source_code", "must be blank");
        }
        if additional_files.is_none() && !e.contains_key("additional_files") {
            add(&mut e, "additional_files", "can't be blank");
        }
    } else if source_code.as_ref().is_none_or(|s| s.is_empty()) && !e.contains_key("source_code") {
        add(&mut e, "source_code", "can't be blank");
    }

    let number_of_runs = num("number_of_runs", &mut e).unwrap_or(cfg.number_of_runs as f64);
    range(
        "number_of_runs",
        number_of_runs,
        0.0,
        false,
        cfg.max_number_of_runs as f64,
        &mut e,
    );
    let cpu_time_limit = num("cpu_time_limit", &mut e).unwrap_or(cfg.cpu_time_limit);
    range(
        "cpu_time_limit",
        cpu_time_limit,
        0.0,
        true,
        cfg.max_cpu_time_limit,
        &mut e,
    );
    let cpu_extra_time = num("cpu_extra_time", &mut e).unwrap_or(cfg.cpu_extra_time);
    range(
        "cpu_extra_time",
        cpu_extra_time,
        0.0,
        true,
        cfg.max_cpu_extra_time,
        &mut e,
    );
    let wall_time_limit = num("wall_time_limit", &mut e).unwrap_or(cfg.wall_time_limit);
    range(
        "wall_time_limit",
        wall_time_limit,
        1.0,
        true,
        cfg.max_wall_time_limit,
        &mut e,
    );
    let memory_limit = num("memory_limit", &mut e).unwrap_or(cfg.memory_limit as f64);
    range(
        "memory_limit",
        memory_limit,
        2048.0,
        true,
        cfg.max_memory_limit as f64,
        &mut e,
    );
    let stack_limit = num("stack_limit", &mut e).unwrap_or(cfg.stack_limit as f64);
    range(
        "stack_limit",
        stack_limit,
        0.0,
        true,
        cfg.max_stack_limit as f64,
        &mut e,
    );
    let max_procs = num("max_processes_and_or_threads", &mut e)
        .unwrap_or(cfg.max_processes_and_or_threads as f64);
    range(
        "max_processes_and_or_threads",
        max_procs,
        0.0,
        false,
        cfg.max_max_processes_and_or_threads as f64,
        &mut e,
    );
    let max_file_size = num("max_file_size", &mut e).unwrap_or(cfg.max_file_size as f64);
    range(
        "max_file_size",
        max_file_size,
        0.0,
        true,
        cfg.max_max_file_size as f64,
        &mut e,
    );
    let per_time = flag("enable_per_process_and_thread_time_limit", &mut e).unwrap_or(false);
    if per_time && !cfg.allow_enable_per_process_and_thread_time_limit {
        add(
            &mut e,
            "enable_per_process_and_thread_time_limit",
            "this option cannot be enabled",
        );
    }
    let per_mem = flag("enable_per_process_and_thread_memory_limit", &mut e).unwrap_or(false);
    if per_mem && !cfg.allow_enable_per_process_and_thread_memory_limit {
        add(
            &mut e,
            "enable_per_process_and_thread_memory_limit",
            "this option cannot be enabled",
        );
    }
    let redirect =
        flag("redirect_stderr_to_stdout", &mut e).unwrap_or(cfg.redirect_stderr_to_stdout);
    let enable_network = flag("enable_network", &mut e).unwrap_or(cfg.enable_network);
    if enable_network && !cfg.allow_enable_network {
        add(&mut e, "enable_network", "enabling network is not allowed");
    }

    let compiler_options = string(get("compiler_options")).filter(|s| !s.trim().is_empty());
    if let Some(o) = &compiler_options {
        if o.len() > 512 {
            add(
                &mut e,
                "compiler_options",
                "is too long (maximum is 512 characters)",
            );
        } else if !cfg.enable_compiler_options {
            add(
                &mut e,
                "compiler_options",
                "setting compiler options is not allowed",
            );
        } else if lang.is_some_and(|l| l.compile_cmd.is_none()) {
            add(
                &mut e,
                "compiler_options",
                "setting compiler options is only allowed for compiled languages",
            );
        } else if let Some(l) = lang
            && !cfg.allowed_languages_for_compile_options.is_empty()
            && !cfg
                .allowed_languages_for_compile_options
                .iter()
                .any(|a| l.name.starts_with(&format!("{a} ")))
        {
            add(
                &mut e,
                "compiler_options",
                format!(
                    "setting compiler options is only allowed for {}",
                    cfg.allowed_languages_for_compile_options.join(", ")
                ),
            );
        }
    }
    let command_line_arguments =
        string(get("command_line_arguments")).filter(|s| !s.trim().is_empty());
    if let Some(a) = &command_line_arguments {
        if a.len() > 512 {
            add(
                &mut e,
                "command_line_arguments",
                "is too long (maximum is 512 characters)",
            );
        } else if !cfg.enable_command_line_arguments {
            add(
                &mut e,
                "command_line_arguments",
                "setting command line arguments is not allowed",
            );
        }
    }
    let callback_url = string(get("callback_url")).filter(|s| !s.trim().is_empty());
    if let Some(u) = &callback_url {
        if !cfg.enable_callbacks {
            add(
                &mut e,
                "callback_url",
                "setting callback url is not allowed",
            );
        } else if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() > 2048 {
            add(&mut e, "callback_url", "must be an http:// or https:// URL");
        }
    }
    if additional_files.is_some() && !cfg.enable_additional_files {
        add(
            &mut e,
            "additional_files",
            "setting additional files is not allowed",
        );
    }

    if !e.is_empty() {
        return Err(e);
    }
    Ok(Submission {
        token: uuid::Uuid::new_v4().to_string(),
        source_code: if is_project { None } else { source_code },
        language_id: language_id.unwrap_or_default(),
        compiler_options,
        command_line_arguments,
        stdin,
        expected_output,
        number_of_runs: number_of_runs as i64,
        cpu_time_limit,
        cpu_extra_time,
        wall_time_limit,
        memory_limit: memory_limit as i64,
        stack_limit: stack_limit as i64,
        max_processes_and_or_threads: max_procs as i64,
        enable_per_process_and_thread_time_limit: per_time,
        enable_per_process_and_thread_memory_limit: per_mem,
        max_file_size: max_file_size as i64,
        redirect_stderr_to_stdout: redirect,
        enable_network,
        callback_url,
        additional_files,
        status_id: status::IN_QUEUE,
        created_at: now_micros(),
        ..Default::default()
    })
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_in_the_sdk_format() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T12:34:56.789012Z
        assert_eq!(
            format_time(1_709_210_096_789_012),
            "2024-02-29T12:34:56.789012Z"
        );
    }

    #[test]
    fn decimals_look_like_rails() {
        assert_eq!(decimal(5.0), "5.0");
        assert_eq!(decimal(0.012), "0.012");
        assert_eq!(decimal(0.5), "0.5");
        assert_eq!(decimal(0.0004), "0.0");
    }

    #[test]
    fn comparison_ignores_trailing_whitespace_only() {
        assert!(outputs_match(b"1 2\n3\n", b"1 2  \n3"));
        assert!(outputs_match(b"a\r\n", b"a"));
        assert!(!outputs_match(b" a", b"a"));
        assert!(!outputs_match(b"a\n\nb", b"a\nb"));
    }

    #[test]
    fn fields_are_checked() {
        assert_eq!(parse_fields(None).unwrap(), DEFAULT_FIELDS);
        assert_eq!(parse_fields(Some("*")).unwrap(), ALL_FIELDS);
        assert_eq!(
            parse_fields(Some("token,stdout")).unwrap(),
            ["token", "stdout"]
        );
        assert_eq!(
            parse_fields(Some("token,nope,x")).unwrap_err(),
            "invalid fields: [nope, x]"
        );
    }
}
