//! `runcell profile list` and `runcell profile show NAME`.

use std::process::ExitCode;

use clap::Subcommand;
use runcell::Profile;

use crate::RUNCELL_FAILED;

#[derive(Subcommand)]
pub enum ProfileCmd {
    /// List the built-in profiles.
    List,
    /// Print a built-in profile's TOML (to copy into a file of your own and pass with
    /// --profile ./FILE.toml).
    Show {
        /// A built-in profile name.
        name: String,
    },
}

pub fn main(cmd: &ProfileCmd) -> ExitCode {
    match cmd {
        ProfileCmd::List => {
            for name in runcell::profile::builtin_names() {
                let desc = Profile::named(name)
                    .map(|p| p.description)
                    .unwrap_or_default();
                println!("{name:<8} {desc}");
            }
            ExitCode::SUCCESS
        }
        ProfileCmd::Show { name } => match runcell::profile::builtin_source(name) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "runcell: no built-in profile {name:?} (built-in: {})",
                    runcell::profile::builtin_names().join(", ")
                );
                ExitCode::from(RUNCELL_FAILED)
            }
        },
    }
}
