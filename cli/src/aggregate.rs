//! `runcell aggregate --sections FILE --inputs DIR [--template PATH] [run OPTIONS]`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use runcell::aggregate::{Aggregation, Sections, Template};
use runcell::{Outcome, SandboxBuilder};

use crate::run::{RunOpts, fail, write_report};

#[derive(Args)]
pub struct AggregateArgs {
    /// The sections file.
    #[arg(long)]
    pub sections: PathBuf,
    /// Directory of partial outputs, mounted read-only at /inputs.
    #[arg(long)]
    pub inputs: PathBuf,
    /// A host template instead of the default one.
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[command(flatten)]
    pub opts: RunOpts,
}

fn aggregate(
    sections: &Path,
    inputs: &Path,
    template: Option<&Path>,
    sandbox: &runcell::Sandbox,
) -> Result<Outcome, runcell::aggregate::Error> {
    let sections = Sections::from_file(sections, &runcell::analyze::Rules::default())?;
    let template = match template {
        Some(path) => Template::from_file(path)?,
        None => Template::default(),
    };
    Aggregation::new(&sections, &template)?.run(sandbox, inputs)
}

pub fn main(args: &AggregateArgs) -> ExitCode {
    let report = args.opts.report.as_deref();
    let sandbox = match args.opts.builder("python").and_then(SandboxBuilder::build) {
        Ok(s) => s,
        Err(e) => return fail(report, &e),
    };
    match aggregate(
        &args.sections,
        &args.inputs,
        args.template.as_deref(),
        &sandbox,
    ) {
        Ok(outcome) => {
            let _ = std::io::stdout().write_all(&outcome.stdout);
            let _ = std::io::stderr().write_all(&outcome.stderr);
            write_report(report, &outcome.report_json());
            ExitCode::from(outcome.shell_status().clamp(0, 255) as u8)
        }
        Err(e) => fail(report, &e),
    }
}
