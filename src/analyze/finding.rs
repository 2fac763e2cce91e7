//! Findings: turning raw matches into user-facing records, ordering them, and rendering
//! reports for the CLI (text and JSON).
//!
//! Positions are 1-based. Columns count Unicode scalar values (characters) from the start
//! of the line, not bytes and not UTF-16 units, so `ｅｖａｌ(x)` after four spaces starts at
//! column 5.

use super::check::Raw;
use super::rules::Rules;
use super::{Finding, Report, Severity};

/// Longest snippet kept (characters); longer spans are cut and end with `...`.
const MAX_SNIPPET: usize = 160;

/// Builds the findings of one file: messages, character columns, snippets, stable order,
/// and no duplicates.
pub fn build(raws: Vec<Raw>, src: &str, rules: &Rules) -> Report {
    let mut findings: Vec<Finding> = raws
        .into_iter()
        .map(|r| to_finding(&r, src, rules))
        .collect();
    findings.sort_by(|a, b| {
        (
            a.line,
            a.column,
            &a.rule,
            a.end_line,
            a.end_column,
            &a.message,
            &a.snippet,
        )
            .cmp(&(
                b.line,
                b.column,
                &b.rule,
                b.end_line,
                b.end_column,
                &b.message,
                &b.snippet,
            ))
    });
    findings.dedup();
    Report { findings }
}

fn to_finding(r: &Raw, src: &str, rules: &Rules) -> Finding {
    let (rule, severity, category, message) = match r.rule {
        Some(i) => {
            let rule = rules.rule(i);
            let message = match &r.detail {
                Some(d) => format!("{} (`{d}`)", rule.message),
                None => rule.message.clone(),
            };
            (
                rule.id.clone(),
                rule.severity,
                rule.category.clone(),
                message,
            )
        }
        None => (
            "syntax-error".to_string(),
            Severity::Error,
            "syntax".to_string(),
            format!(
                "the file does not parse: {}",
                r.detail.as_deref().unwrap_or("invalid syntax")
            ),
        ),
    };
    Finding {
        rule,
        severity,
        category,
        message,
        line: r.start.0 + 1,
        column: char_column(src, r.start_byte, r.start.1),
        end_line: r.end.0 + 1,
        end_column: char_column(src, r.end_byte, r.end.1),
        snippet: snippet(src, r.start_byte, r.end_byte),
    }
}

/// 1-based character column of byte offset `byte`, whose byte column is `byte_col`.
fn char_column(src: &str, byte: usize, byte_col: usize) -> usize {
    let line_start = byte.saturating_sub(byte_col);
    match src.get(line_start..byte.min(src.len())) {
        Some(prefix) => prefix.chars().count() + 1,
        None => byte_col + 1,
    }
}

fn snippet(src: &str, start: usize, end: usize) -> String {
    let text = src.get(start..end.min(src.len())).unwrap_or("");
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim_end();
    let more = lines.next().is_some();
    let mut out: String = first.chars().take(MAX_SNIPPET).collect();
    if more || first.chars().count() > MAX_SNIPPET {
        out.push_str(" ...");
    }
    out
}

#[derive(serde::Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    findings: &'a [Finding],
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
}

/// The CLI's JSON: `{"files": [{"path": ..., "findings": [...]}]}`, pretty-printed, with
/// a final newline.
pub fn render_json(files: &[(String, Report)]) -> String {
    let report = JsonReport {
        files: files
            .iter()
            .map(|(p, r)| JsonFile {
                path: p,
                findings: &r.findings,
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&report).unwrap_or_else(|_| String::from("{\"files\": []}"));
    out.push('\n');
    out
}

/// The CLI's text: one `path:line:column: severity: message [rule]` line per finding with
/// the snippet indented below it, and `path: ok` for a file without findings.
pub fn render_text(files: &[(String, Report)]) -> String {
    let mut out = String::new();
    for (path, report) in files {
        if report.findings.is_empty() {
            out.push_str(&format!("{path}: ok\n"));
            continue;
        }
        for f in &report.findings {
            let sev = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "error",
            };
            out.push_str(&format!(
                "{path}:{}:{}: {sev}: {} [{}]\n",
                f.line, f.column, f.message, f.rule
            ));
            if !f.snippet.is_empty() {
                out.push_str(&format!("    {}\n", f.snippet));
            }
        }
    }
    out
}
