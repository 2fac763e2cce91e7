//! A host merging word counts from several partial outputs.
//!
//! Each node of a grouped job counted words in its share of a corpus and returned a partial
//! output file of `word count` lines. The job's owner supplies the merge logic as a sections
//! file; the host checks it, renders it into the default template, verifies the structure and
//! runs it over the partial outputs in the sandbox.
//!
//! Run with `cargo run --example aggregate`.

use std::error::Error;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use runcell::aggregate::{Aggregation, Sections, Template};
use runcell::{Profile, Sandbox, Verdict};

/// The job owner's merge logic.
const SECTIONS: &str = "\
# Merge word counts: each input has one `word count` pair per line.
###Code Before Loop###
from collections import Counter
totals = Counter()

###Loop Code###
for line in content.splitlines():
    if line.strip():
        word, count = line.split()
        totals[word] += int(count)

###Code After For Loop###
for word, count in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
    print(f\"{word} {count}\")
";

fn main() -> Result<(), Box<dyn Error>> {
    // The partial outputs, as the nodes would have returned them.
    let parts = tempfile::tempdir()?;
    for (name, text) in [
        ("node-1.txt", "the 4\ncat 1\nsat 1\n"),
        ("node-2.txt", "the 3\ndog 2\n"),
        ("node-3.txt", "cat 2\nthe 1\n"),
    ] {
        let path = parts.path().join(name);
        fs::write(&path, text)?;
        // The sandboxed program runs as an unprivileged user: the inputs must be readable by it.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))?;
    }
    fs::set_permissions(parts.path(), fs::Permissions::from_mode(0o755))?;

    // Check the sections (syntax, structure rules, static analysis), render and verify.
    let sections = Sections::parse(SECTIONS)?;
    let job = Aggregation::new(&sections, &Template::default())?;

    // Run it: inputs read-only at /inputs, python profile, default limits.
    let sandbox = Sandbox::builder()
        .profile(Profile::named("python")?)
        .build()?;
    let outcome = job.run(&sandbox, parts.path())?;
    if outcome.verdict != Verdict::Ok {
        eprintln!("merge failed: {:?}", outcome.verdict);
        eprint!("{}", String::from_utf8_lossy(&outcome.stderr));
        std::process::exit(1);
    }
    print!("{}", String::from_utf8_lossy(&outcome.stdout));

    // A submission that tries to leave its section is refused before anything runs.
    let sneaky = "###Code Before Loop###\n###Loop Code###\nbreak\n###Code After For Loop###\n";
    match Sections::parse(sneaky) {
        Ok(_) => println!("unexpected: accepted"),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
