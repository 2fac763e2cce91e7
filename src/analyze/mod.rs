//! Static analysis of submitted Python, before a sandbox is spent on it.
//!
//! ```
//! use runcell::analyze::{self, Rules};
//! let report = analyze::python("import os as o\ngetattr(o, 'metsys'[::-1])('id')\n", &Rules::default());
//! assert!(report.is_blocking());
//! assert_eq!(report.findings[0].rule, "process-exec");
//! assert!(!analyze::python("import os\nprint(os.path.join('a', 'b'))\n", &Rules::default()).is_blocking());
//! ```
//!
//! How it works: tree-sitter-python parses the text (a file that does not parse yields a
//! `syntax-error` finding, never a panic); `ast` copies the tree once into a compact node
//! array that every later pass reads; `scope` records every binding of every scope;
//! `resolve` evaluates expressions to abstract values, seeing through aliases, dynamic
//! imports and lookups, user functions and constant folding (`fold`); `check` walks the
//! tree once and applies the [`Rules`] (data: `policies/analysis/*.toml`); `finding` orders
//! and renders the results.
//!
//! Two stances ship: [`Rules::default()`] reports *capabilities* (running a process, dynamic
//! code, native memory, unsafe deserialization, network use, host reconnaissance,
//! interpreter introspection escapes, screen/keyboard capture, never-ending loops and huge
//! constant allocations) and is quiet on ordinary code (`import os`,
//! `os.path.join`, `os.environ.get`); [`Rules::strict()`] also refuses importing process,
//! network and native-code modules at all.
//!
//! Positions in findings are 1-based lines and 1-based columns counted in characters
//! (Unicode scalar values), with an exclusive end column.

mod ast;
mod check;
mod finding;
mod fold;
mod project;
mod resolve;
mod rules;
mod scope;
mod value;

pub use finding::{render_json, render_text};
pub use project::{SourceFile, python_files};
pub use rules::{
    ArgSpec, DEFAULT_RULES, Detector, Error, LIBRARY_RULES, Rule, Rules, STRICT_RULES,
};

use serde::Serialize;
use std::cell::RefCell;

/// How serious a finding is (`error` and `warning` block a submission).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; does not block.
    Info,
    /// Blocks a submission: a capability the sandbox is not meant to grant.
    Warning,
    /// Blocks a submission: clearly dangerous.
    Error,
}

/// One thing the analyzer found, with its exact span (1-based lines and character columns;
/// `end_column` is exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id (`syntax-error` for a file that does not parse).
    pub rule: String,
    /// How serious it is.
    pub severity: Severity,
    /// The rule's category (`process`, `dynamic-code`, `network`, ...).
    pub category: String,
    /// What is wrong, for the person who submitted the code.
    pub message: String,
    /// 1-based first line of the span.
    pub line: usize,
    /// 1-based first column (characters).
    pub column: usize,
    /// 1-based last line of the span.
    pub end_line: usize,
    /// 1-based column (characters) just after the span.
    pub end_column: usize,
    /// The source text of the span (first line, shortened).
    pub snippet: String,
}

/// All findings for one source text, ordered by position then rule id, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings, in order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when any finding is `warning` or above.
    pub fn is_blocking(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity >= Severity::Warning)
    }

    /// The most serious severity found, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

thread_local! {
    /// One parser per thread: creating one costs more than parsing a small file.
    static PARSER: RefCell<Option<tree_sitter::Parser>> = const { RefCell::new(None) };
}

/// Analyzes one Python source text. Never panics; a text that does not parse yields a
/// `syntax-error` finding (and whatever the parts that did parse show).
pub fn python(source: &str, rules: &Rules) -> Report {
    analyze(source, rules, 0)
}

/// How deep code strings inside code strings are read (`exec("exec('...')")`); a code
/// string deeper than this is reported as dynamic code.
pub const MAX_CODE_DEPTH: usize = 3;

thread_local! {
    /// Bytes of code strings the current top-level analysis may still read (so that one
    /// large string executed from many places cannot multiply the work).
    static CODE_BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Takes `n` bytes from this analysis's code-string budget; false when it is spent.
pub(crate) fn take_code_budget(n: usize) -> bool {
    CODE_BUDGET.with(|b| match b.get().checked_sub(n) {
        Some(left) => {
            b.set(left);
            true
        }
        None => false,
    })
}

/// [`python`] for code found inside code (`timeit.timeit("...")`), `nested` levels deep.
pub(crate) fn analyze(source: &str, rules: &Rules, nested: usize) -> Report {
    if nested == 0 {
        // Code strings read: at most four times the file itself, and at least 1 MiB.
        CODE_BUDGET.with(|b| b.set(source.len().saturating_mul(4).max(1 << 20)));
    }
    let raw = analyze_raw(source, rules, nested, None);
    finding::build(raw, source, rules)
}

/// Parses `source` with this thread's parser (created on first use).
pub(crate) fn parse(source: &str) -> Option<tree_sitter::Tree> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut p = tree_sitter::Parser::new();
            if p.set_language(&tree_sitter_python::LANGUAGE.into())
                .is_err()
            {
                return None;
            }
            *slot = Some(p);
        }
        let parser = slot.as_mut()?;
        parser.reset();
        parser.parse(source, None)
    })
}

/// The raw matches of one source text (positions in that text).
/// `outer`: names visible where a code string runs (see `Resolver::visible_names`).
pub(crate) fn analyze_raw(
    source: &str,
    rules: &Rules,
    nested: usize,
    outer: Option<resolve::Outer>,
) -> Vec<check::Raw> {
    let failed = |why: &str| {
        vec![check::Raw {
            rule: None,
            start_byte: 0,
            end_byte: 0,
            start: (0, 0),
            end: (0, 0),
            detail: Some(why.into()),
        }]
    };
    let Some(tree) = parse(source) else {
        return failed("the parser could not run");
    };
    // Every pass reads the compact copy. When the tree is freed decides where glibc's
    // lazy consolidation of its many small blocks lands, and how much of it there is
    // (measured on 1 MB, see README): freed right after the copy, it falls on the binding
    // pass's first large allocation; freed last, after the resolver's own small blocks,
    // the free cost 3.5x a parse's own free and the next parse ran ~30% slower. Freed
    // here, after the checks and before the resolver and the copy, the analysis's parse
    // costs what a parse alone does, and analysis plus parse ~10% less together.
    let Some(ast) = ast::Ast::build(&tree, source) else {
        return failed("the file is too large to analyze (4 GiB or more)");
    };
    let root = ast.root();
    let scopes = scope::Scopes::build(root, source);
    let resolver = resolve::Resolver::new(source, scopes, rules.known_names(), outer);
    let mut checker = check::Checker::new(&resolver, rules, nested);
    checker.run(root);
    let out = std::mem::take(&mut checker.out);
    drop(checker);
    drop(tree);
    drop(resolver);
    drop(ast);
    out
}
