//! Fuzz the Python analyzer: any text, default and strict rules.
//!
//! Invariants (a violation panics, which libFuzzer reports):
//! - nothing panics, whatever the input (deep nesting, broken escapes, odd Unicode);
//! - the report is deterministic and in stable order without duplicates;
//! - every finding's span lies inside the text (1-based, end not before start);
//! - analyzed as two files of one submission (split at the first `#---` line, the first half
//!   importable as `helper`), each file keeps every finding it has alone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runcell::analyze::{self, Rules};
use std::sync::OnceLock;

static RULES: OnceLock<(Rules, Rules)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (default, strict) = RULES.get_or_init(|| (Rules::default(), Rules::strict()));
    let report = analyze::python(text, default);
    let again = analyze::python(text, default);
    assert_eq!(report, again, "analysis is not deterministic");
    let lines = text.split('\n').count();
    for w in report.findings.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            (a.line, a.column, &a.rule) <= (b.line, b.column, &b.rule),
            "unordered findings"
        );
        assert_ne!(a, b, "duplicate finding");
    }
    for f in &report.findings {
        assert!(f.line >= 1 && f.column >= 1, "positions are 1-based");
        assert!(
            (f.end_line, f.end_column) >= (f.line, f.column),
            "end before start"
        );
        assert!(f.end_line <= lines, "span beyond the text");
    }
    if let Some((a, b)) = text.split_once("\n#---\n") {
        let files = [
            analyze::SourceFile {
                path: "helper.py".into(),
                source: a.to_string(),
            },
            analyze::SourceFile {
                path: "main.py".into(),
                source: b.to_string(),
            },
        ];
        let together = analyze::python_files(&files, default, 2);
        assert_eq!(together.len(), 2);
        for (f, r) in files.iter().zip(&together) {
            let alone = analyze::python(&f.source, default);
            for x in &alone.findings {
                assert!(r.findings.contains(x), "a finding was lost in the submission");
            }
        }
    }
    let strict_report = analyze::python(text, strict);
    assert!(strict_report.findings.len() >= report.findings.len() || strict_report.is_blocking());
});
