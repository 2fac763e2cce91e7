//! `runcell analyze [--rules PATH] [--format text|json] FILE|DIR...` (DESIGN §5): the
//! arguments; the work is in `analyze_cmd`.

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
    /// Python files (- for stdin), or directories: their *.py files, analyzed together with
    /// imports between them resolved.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub files: Vec<String>,
}

/// Exit 0 when no finding is a warning or above, 1 when one is, 2 on a usage or read error.
pub fn main(args: &AnalyzeArgs) -> ExitCode {
    crate::analyze_cmd::analyze(args.rules.as_deref(), &args.format, &args.files)
}
