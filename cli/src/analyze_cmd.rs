//! `runcell analyze [--rules PATH] [--format text|json] FILE|DIR...`
//!
//! Every FILE (`-` for stdin) and every `*.py` file under a DIR (recursively, symlinks not
//! followed, in sorted order) form one submission: imports between them are resolved, so a
//! call into a sibling module is reported where it is made. Files are analyzed in parallel,
//! one parser per thread. Output and exit status are DESIGN §5's: 0 when no finding is
//! `warning` or above, 1 when one is, 2 on a usage or read error.

use runcell::analyze::{self, Rules, SourceFile};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Runs the subcommand.
pub fn analyze(rules: Option<&Path>, format: &str, inputs: &[String]) -> ExitCode {
    let rules = match rules {
        Some(p) => match Rules::load(p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("runcell: {e}");
                return ExitCode::from(2);
            }
        },
        None => Rules::default(),
    };
    let mut files = Vec::new();
    for input in inputs {
        if let Err(msg) = collect(input, &mut files) {
            eprintln!("runcell: {msg}");
            return ExitCode::from(2);
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let reports = analyze::python_files(&files, &rules, threads);
    let named: Vec<(String, analyze::Report)> =
        files.into_iter().map(|f| f.path).zip(reports).collect();
    let out = if format == "json" {
        analyze::render_json(&named)
    } else {
        analyze::render_text(&named)
    };
    print!("{out}");
    if named.iter().any(|(_, r)| r.is_blocking()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Adds `input` (stdin, a file, or the `*.py` files of a directory tree) to `files`.
fn collect(input: &str, files: &mut Vec<SourceFile>) -> Result<(), String> {
    if input == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read -: {e}"))?;
        files.push(SourceFile {
            path: input.to_string(),
            source: String::from_utf8_lossy(&bytes).into_owned(),
        });
        return Ok(());
    }
    let path = Path::new(input);
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {input}: {e}"))?;
    if !meta.is_dir() {
        files.push(read(path, input)?);
        return Ok(());
    }
    let mut found = Vec::new();
    walk(path, &mut found, 0)?;
    found.sort();
    for p in found {
        let shown = p.display().to_string();
        files.push(read(&p, &shown)?);
    }
    Ok(())
}

fn read(path: &Path, shown: &str) -> Result<SourceFile, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(SourceFile {
        path: shown.to_string(),
        source: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;

/// The `*.py` regular files under `dir`; symlinks are not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: directories nested too deep", dir.display()));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        let p = entry.path();
        if kind.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if kind.is_file() && p.extension().is_some_and(|x| x == "py") {
            out.push(p);
        }
    }
    Ok(())
}
