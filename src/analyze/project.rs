//! Submissions of several files: each file is analyzed on its own, and what a file's
//! functions (or its top level) do is reported again where another file of the submission
//! imports and calls them.
//!
//! How: every module of the set is named from its path (`pkg/helper.py` is `pkg.helper`, also
//! reachable as `helper`: a relative import is named without its package). A blocking finding
//! inside a top-level function or method of a module becomes a rule matching calls of that
//! function (`helper.run`, `pkg.helper.Cls.method`); one at the module's top level becomes a
//! rule matching its import (importing runs the top level). The files that import a module
//! with such rules are analyzed again with them, until nothing new is found (a chain
//! `main -> a -> b` takes one round per link, bounded by [`MAX_ROUNDS`]). The extra findings
//! keep the sibling's rule id, category and severity; the message names the function and the
//! line of the original finding.
//!
//! Files are analyzed in parallel, one parser per thread.

use super::ast::Node;
use super::rules::Rule;
use super::scope::{named_children, text};
use super::{Report, Rules, Severity};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most re-analysis rounds (import chains longer than this are cut).
const MAX_ROUNDS: usize = 6;

/// One file of a submission: its path (relative to the submission's root, `/`-separated,
/// used to name its module) and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as reported (and, relative to the root, the module's name).
    pub path: String,
    /// The file's text.
    pub source: String,
}

/// What one module offers its importers: top-level definitions' line ranges and its imports.
struct Outline {
    /// Module names this file can be imported as (`pkg.helper`, `helper`).
    names: Vec<String>,
    /// (qualified name inside the module, first line, last line), 1-based; methods as
    /// `Class.method`.
    defs: Vec<(String, usize, usize)>,
    /// Lines covered by a function (a finding outside them runs when the module is imported).
    in_def: Vec<(usize, usize)>,
    /// Modules this file imports (absolute names, and relative ones without their dots).
    imports: HashSet<String>,
}

/// Analyzes a set of files as one submission (see the module documentation). Reports come
/// back in the order of `files`. `threads` workers run in parallel (at least one).
pub fn python_files(files: &[SourceFile], rules: &Rules, threads: usize) -> Vec<Report> {
    let threads = threads.max(1);
    let all: Vec<usize> = (0..files.len()).collect();
    let mut reports = run_parallel(files, &all, rules, threads);
    let outlines: Vec<Outline> = parallel_map(files.len(), threads, |i| outline(&files[i]));
    let locals: HashSet<&str> = outlines
        .iter()
        .flat_map(|o| o.names.iter().map(String::as_str))
        .collect();
    // Only files importing a module of the set can gain findings.
    let importers: Vec<usize> = (0..files.len())
        .filter(|&i| {
            outlines[i]
                .imports
                .iter()
                .any(|m| locals.contains(m.as_str()))
        })
        .collect();
    if importers.is_empty() {
        return reports;
    }
    let mut known: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut extra: Vec<Rule> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let before = extra.len();
        for (i, f) in files.iter().enumerate() {
            exported_rules(f, &outlines[i], &reports[i], &mut known, &mut extra);
        }
        if extra.len() == before {
            break;
        }
        let combined = rules.with_extra(extra.clone());
        let redo = run_parallel(files, &importers, &combined, threads);
        for (k, &i) in importers.iter().enumerate() {
            reports[i] = redo[k].clone();
        }
    }
    reports
}

/// Analyzes `which` files in parallel; reports in the order of `which`.
fn run_parallel(
    files: &[SourceFile],
    which: &[usize],
    rules: &Rules,
    threads: usize,
) -> Vec<Report> {
    parallel_map(which.len(), threads, |k| {
        super::python(&files[which[k]].source, rules)
    })
}

/// `f(0..n)` on `threads` scoped threads that take the next index as they finish.
fn parallel_map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if threads <= 1 || n <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(n))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        out.push((i, f(i)));
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            // A worker that panicked loses its part; the caller sees fewer results.
            if let Ok(part) = h.join() {
                parts.push(part);
            }
        }
    });
    let mut all: Vec<(usize, T)> = parts.into_iter().flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// The module names of `path`: its dotted path without `.py` (and without a final
/// `__init__`), and every dotted suffix of it.
fn module_names(path: &str) -> Vec<String> {
    let trimmed = path.trim_start_matches("./");
    let Some(stem) = trimmed.strip_suffix(".py") else {
        return Vec::new();
    };
    let mut parts: Vec<&str> = stem.split('/').filter(|p| !p.is_empty()).collect();
    if parts.last() == Some(&"__init__") {
        parts.pop();
    }
    let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c == '_' || c.is_alphanumeric());
    // Only the trailing components that are identifiers can be imported.
    let start = parts.iter().rposition(|p| !valid(p)).map_or(0, |i| i + 1);
    let parts = &parts[start..];
    (0..parts.len()).map(|i| parts[i..].join(".")).collect()
}

fn outline(file: &SourceFile) -> Outline {
    let mut o = Outline {
        names: module_names(&file.path),
        defs: Vec::new(),
        in_def: Vec::new(),
        imports: HashSet::new(),
    };
    let Some(tree) = super::parse(&file.source) else {
        return o;
    };
    let src = file.source.as_str();
    let Some(ast) = super::ast::Ast::build(&tree, src) else {
        return o;
    };
    drop(tree);
    let root = ast.root();
    for node in named_children(root) {
        collect_defs(node, "", src, &mut o);
    }
    collect_imports(root, src, &mut o.imports, 0);
    o
}

/// Top-level functions, classes' methods, through decorators.
fn collect_defs(node: Node<'_>, prefix: &str, src: &str, o: &mut Outline) {
    let node = if node.kind() == "decorated_definition" {
        match node.child_by_field_name("definition") {
            Some(d) => d,
            None => return,
        }
    } else {
        node
    };
    let lines = (node.start_position().row + 1, node.end_position().row + 1);
    let Some(name) = node.child_by_field_name("name").map(|n| text(n, src)) else {
        return;
    };
    match node.kind() {
        "function_definition" => {
            o.defs.push((format!("{prefix}{name}"), lines.0, lines.1));
            o.in_def.push(lines);
        }
        "class_definition" if prefix.is_empty() => {
            if let Some(body) = node.child_by_field_name("body") {
                for member in named_children(body) {
                    collect_defs(member, &format!("{name}."), src, o);
                }
            }
        }
        _ => {}
    }
}

/// Every module named in an import statement anywhere in the file.
fn collect_imports(node: Node<'_>, src: &str, out: &mut HashSet<String>, depth: usize) {
    if depth > 200 {
        return;
    }
    match node.kind() {
        "import_statement" => {
            for n in named_children(node) {
                let m = if n.kind() == "aliased_import" {
                    n.child_by_field_name("name")
                } else {
                    Some(n)
                };
                if let Some(m) = m {
                    add_module(text(m, src), out);
                }
            }
            return;
        }
        "import_from_statement" => {
            if let Some(m) = node.child_by_field_name("module_name") {
                let base = text(m, src).trim_start_matches('.').to_string();
                if !base.is_empty() {
                    add_module(&base, out);
                }
                // `from pkg import helper` / `from . import helper` may import modules.
                let mut cursor = node.walk();
                for n in node.children_by_field_name("name", &mut cursor) {
                    let name = match n.kind() {
                        "aliased_import" => n.child_by_field_name("name").map(|x| text(x, src)),
                        _ => Some(text(n, src)),
                    };
                    if let Some(name) = name {
                        let full = if base.is_empty() {
                            name.to_string()
                        } else {
                            format!("{base}.{name}")
                        };
                        add_module(&full, out);
                    }
                }
            }
            return;
        }
        _ => {}
    }
    for c in named_children(node) {
        collect_imports(c, src, out, depth + 1);
    }
}

/// `a.b.c` adds `a.b.c`, `a.b` and `a` (importing a submodule runs its packages).
fn add_module(m: &str, out: &mut HashSet<String>) {
    let m: String = m.chars().filter(|c| !c.is_whitespace()).collect();
    let mut cur = m.as_str();
    loop {
        out.insert(cur.to_string());
        match cur.rsplit_once('.') {
            Some((head, _)) => cur = head,
            None => break,
        }
    }
}

/// Rules for what `file`'s functions and top level do, for its importers. `known` holds
/// (pattern, rule id, kind) already added so rounds only add new ones.
fn exported_rules(
    file: &SourceFile,
    o: &Outline,
    report: &Report,
    known: &mut BTreeSet<(String, String, String)>,
    extra: &mut Vec<Rule>,
) {
    if o.names.is_empty() {
        return;
    }
    // Worst finding per target (function qualname, or "" for the top level) and rule id.
    let mut worst: BTreeMap<(String, String), &super::Finding> = BTreeMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        if f.rule == "syntax-error" {
            continue;
        }
        let target = o
            .defs
            .iter()
            .filter(|(_, a, b)| (*a..=*b).contains(&f.line))
            .min_by_key(|(_, a, b)| b - a)
            .map(|(q, _, _)| q.clone());
        let target = match target {
            Some(q) => q,
            None if o.in_def.iter().any(|(a, b)| (*a..=*b).contains(&f.line)) => continue,
            None => String::new(),
        };
        let slot = worst.entry((target, f.rule.clone())).or_insert(f);
        if f.severity > slot.severity {
            *slot = f;
        }
    }
    for ((target, id), f) in worst {
        let kind = if target.is_empty() { "import" } else { "call" };
        let patterns: Vec<String> = o
            .names
            .iter()
            .map(|m| {
                if target.is_empty() {
                    m.clone()
                } else {
                    format!("{m}.{target}")
                }
            })
            .filter(|p| known.insert((p.clone(), id.clone(), kind.to_string())))
            .collect();
        if patterns.is_empty() {
            continue;
        }
        let what = if target.is_empty() {
            format!("importing `{}` runs its top level", o.names[0])
        } else {
            format!("`{}.{target}`", o.names[0])
        };
        let message = format!(
            "{}: {} ({}:{}: {})",
            what, f.message, file.path, f.line, f.snippet
        );
        let (calls, imports) = if target.is_empty() {
            (Vec::new(), patterns)
        } else {
            (patterns, Vec::new())
        };
        extra.push(Rule {
            id,
            category: f.category.clone(),
            severity: f.severity,
            message,
            calls,
            imports,
            attributes: Vec::new(),
            names: Vec::new(),
            strings: Vec::new(),
            whole: Vec::new(),
            calls_except: Vec::new(),
            lookup_names: Vec::new(),
            detect: None,
            when_keyword: BTreeMap::new(),
            unless_arg: None,
            path_prefixes: Vec::new(),
            path_exempt: Vec::new(),
            write_mode: false,
            code_arg: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::module_names;

    #[test]
    fn module_names_from_paths() {
        assert_eq!(module_names("main.py"), ["main"]);
        assert_eq!(module_names("pkg/helper.py"), ["pkg.helper", "helper"]);
        assert_eq!(module_names("./pkg/__init__.py"), ["pkg"]);
        assert_eq!(module_names("my-dir/a.py"), ["a"]);
        assert!(module_names("README.md").is_empty());
    }
}
