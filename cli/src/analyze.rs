//! `runcell analyze [--rules PATH] [--format text|json] FILE...` (DESIGN §5).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct AnalyzeArgs {
    /// A rule file to use instead of the default rules.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Python files (- for stdin).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
}

/// Exit 0 when no finding is a warning or above, 1 when one is, 2 on a usage or read error.
pub fn main(args: &AnalyzeArgs) -> ExitCode {
    let rules = match &args.rules {
        Some(p) => match runcell::analyze::Rules::load(p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("runcell: {e}");
                return ExitCode::from(2);
            }
        },
        None => runcell::analyze::Rules::default(),
    };
    let mut reports = Vec::new();
    for f in &args.files {
        let mut bytes = Vec::new();
        let read = if f == "-" {
            std::io::stdin().read_to_end(&mut bytes).map(|_| ())
        } else {
            std::fs::File::open(f).and_then(|mut h| h.read_to_end(&mut bytes).map(|_| ()))
        };
        if let Err(e) = read {
            eprintln!("runcell: cannot read {f}: {e}");
            return ExitCode::from(2);
        }
        let text = String::from_utf8_lossy(&bytes);
        reports.push((f.clone(), runcell::analyze::python(&text, &rules)));
    }
    let out = if args.format == "json" {
        runcell::analyze::render_json(&reports)
    } else {
        runcell::analyze::render_text(&reports)
    };
    print!("{out}");
    if reports.iter().any(|(_, r)| r.is_blocking()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
