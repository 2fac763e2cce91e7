//! `runcell check [--format text|json]`: what this host supports and what runcell enforces.

use std::process::ExitCode;

use clap::Args;

#[derive(Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Exit 0 when the default profile can run here, 1 when it cannot.
pub fn main(args: &CheckArgs) -> ExitCode {
    let report = runcell::check();
    if args.format == "json" {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if report.default_profile_runs() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
