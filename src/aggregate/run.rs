//! Running a verified aggregation in a sandbox.
//!
//! [`Aggregation::run`] checks the inputs directory on the host, mounts it read-only at
//! `/inputs` in a variant of the given sandbox, and feeds `python3 -I -` a small program on
//! stdin: an in-sandbox guard (`guard.py`) that re-checks the rendered script's structure with
//! CPython's own parser (the interpreter that will run it, so tree-sitter and CPython cannot
//! disagree unnoticed), then executes the rendered script in a fresh namespace. The result is
//! the returned [`Outcome`]: whatever the sections print is on its stdout.
//!
//! Inputs, defined behaviour (all checked before anything runs, as [`Error::Inputs`] or
//! [`Error::Input`]):
//! - the directory must exist and be a directory; an empty directory is fine: zero inputs,
//!   the loop section runs zero times, the before and after sections run once;
//! - every entry must be a regular file directly in it (subdirectories, symbolic links, FIFOs,
//!   sockets and devices are refused), with a UTF-8 name, readable, and valid UTF-8 text
//!   (binary or corrupted files are refused, naming the file and the first bad byte offset);
//! - when the host runs as root, the sandbox's program runs as a host uid of its own (leased
//!   per run from the host id range, see [`crate::HostIdRange`]), an "other" to the user's
//!   files, so the directory must be o+rx and each file o+r; this is checked (never changed:
//!   the user's files are not chmod-ed) and reported with the fix.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Command, Outcome, Profile, Sandbox};

use super::error::{Error, Section};
use super::render::{Origin, Rendered};
use super::sections::Sections;
use super::template::Template;

/// Where the inputs are mounted inside the sandbox.
pub const INPUTS_MOUNT: &str = "/inputs";

/// Exit status and stderr prefix of the in-sandbox guard when it refuses the script.
const GUARD_EXIT: i32 = 86;
const GUARD_PREFIX: &str = "runcell-guard: ";
const GUARD: &str = include_str!("guard.py");

/// A verified aggregation job: sections rendered into a template, ready to run.
#[derive(Debug, Clone)]
pub struct Aggregation {
    rendered: Rendered,
    skeleton: String,
}

impl Aggregation {
    /// Render `sections` into `template` and verify the structure. (The sections were checked
    /// and analyzed when they were parsed, with the rules given to
    /// [`Sections::parse_with_rules`].)
    pub fn new(sections: &Sections, template: &Template) -> Result<Aggregation, Error> {
        Ok(Aggregation {
            rendered: sections.render(template)?,
            skeleton: template.skeleton().to_string(),
        })
    }

    /// The rendered, verified script.
    pub fn rendered(&self) -> &Rendered {
        &self.rendered
    }

    /// The exact program fed to `python3 -I -` on stdin: the guard with the script embedded.
    pub fn program(&self) -> String {
        let spans: Vec<String> = Section::ALL
            .iter()
            .map(|&s| {
                let lines = self.rendered.section_lines(s);
                let marker = lines.start - 1;
                format!("({marker}, {}, {})", lines.start, lines.end - 1)
            })
            .collect();
        format!(
            "_runcell_script = bytes.fromhex(\"{}\").decode(\"utf-8\")\n\
             _runcell_skeleton = bytes.fromhex(\"{}\").decode(\"utf-8\")\n\
             _runcell_spans = ({},)\n{GUARD}",
            hex(self.rendered.script()),
            hex(&self.skeleton),
            spans.join(", "),
        )
    }

    /// A sandbox for aggregation jobs: the built-in `python` profile with its defaults.
    pub fn default_sandbox() -> Result<Sandbox, Error> {
        Ok(Sandbox::builder()
            .profile(Profile::named("python")?)
            .build()?)
    }

    /// Run the job over the files in `inputs` (see the module docs for what is accepted).
    ///
    /// `inputs` is bound read-only at `/inputs` for this run only (a per-run mount: the
    /// sandbox is not rebuilt, so many aggregations share one `Sandbox`; it must not mount
    /// anything at `/inputs` itself). The directory may sit inside a private (0700) directory
    /// of the host: bind sources are opened with the host's credentials.
    pub fn run(&self, sandbox: &Sandbox, inputs: impl AsRef<Path>) -> Result<Outcome, Error> {
        let dir = inputs.as_ref();
        check_inputs(dir)?;
        let source = fs::canonicalize(dir).map_err(|e| Error::Inputs {
            path: dir.to_path_buf(),
            reason: format!("cannot resolve the path: {e}"),
        })?;
        let command = Command::new("python3")
            .arg("-I")
            .arg("-")
            .ro_bind(source, INPUTS_MOUNT);
        let outcome = sandbox.run(&command, self.program().as_bytes())?;
        if outcome.exit_code == Some(GUARD_EXIT) {
            let stderr = String::from_utf8_lossy(&outcome.stderr);
            if let Some(rest) = stderr.strip_prefix(GUARD_PREFIX) {
                return Err(self.guard_error(rest));
            }
        }
        Ok(outcome)
    }

    fn guard_error(&self, report: &str) -> Error {
        let report = report.lines().next().unwrap_or("");
        let (line, message) = report.split_once(": ").unwrap_or(("0", report));
        let line: usize = line.parse().unwrap_or(0);
        let (section, line) = match self.rendered.origin(line) {
            Some(Origin::Section { section, line }) => (Some(section), line),
            Some(Origin::Template { line }) => (None, line),
            _ => (None, 0),
        };
        Error::Structure {
            section,
            line,
            message: format!("(checked by CPython in the sandbox) {message}"),
        }
    }
}

fn hex(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Check an inputs directory as [`Aggregation::run`] does, without running anything; returns
/// the input files in the order the default template visits them (sorted by name).
pub fn check_inputs(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let inputs = |reason: String| Error::Inputs {
        path: dir.to_path_buf(),
        reason,
    };
    let meta = fs::metadata(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => inputs("does not exist".into()),
        _ => inputs(format!("cannot be inspected: {e}")),
    })?;
    if !meta.is_dir() {
        return Err(inputs("is not a directory".into()));
    }
    let as_root = nix::unistd::geteuid().is_root();
    if as_root && mode(&meta) & 0o005 != 0o005 {
        return Err(inputs(
            "must be readable and searchable by others (chmod o+rx): the sandboxed program \
             runs as an unprivileged host uid of its own"
                .into(),
        ));
    }
    let entries = fs::read_dir(dir).map_err(|e| inputs(format!("cannot be listed: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| inputs(format!("cannot be listed: {e}")))?;
        let path = entry.path();
        let input = |reason: &str| Error::Input {
            path: path.clone(),
            reason: reason.to_string(),
        };
        if entry.file_name().to_str().is_none() {
            return Err(input("the file name is not UTF-8"));
        }
        let kind = entry
            .file_type()
            .map_err(|e| input(&format!("cannot be inspected: {e}")))?;
        if kind.is_symlink() {
            return Err(input("is a symbolic link (inputs must be regular files)"));
        }
        if kind.is_dir() {
            return Err(input(
                "is a directory (inputs must be regular files directly in the inputs directory)",
            ));
        }
        if !kind.is_file() {
            return Err(input("is not a regular file"));
        }
        let meta = entry
            .metadata()
            .map_err(|e| input(&format!("cannot be inspected: {e}")))?;
        if as_root && mode(&meta) & 0o004 == 0 {
            return Err(input(
                "is not readable by others (chmod o+r): the sandboxed program runs as an \
                 unprivileged host uid of its own",
            ));
        }
        let bytes = fs::read(&path).map_err(|e| input(&format!("cannot be read: {e}")))?;
        if let Err(e) = std::str::from_utf8(&bytes) {
            return Err(input(&format!(
                "is not UTF-8 text (binary or corrupted; first invalid byte at offset {})",
                e.valid_up_to()
            )));
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command as Process, Stdio};

    use super::*;

    /// Run a program with the host's python (only the guard runs when it works: the tests
    /// check that the script after it never does).
    fn host_python(program: &str) -> Option<(i32, String, String)> {
        let mut child = Process::new("/usr/bin/python3")
            .args(["-I", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(program.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        Some((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    fn job(before: &str, after: &str) -> Aggregation {
        let text = format!(
            "###Code Before Loop###\n{before}###Loop Code###\n###Code After For Loop###\n{after}"
        );
        let sections = Sections::parse(&text).unwrap();
        Aggregation::new(&sections, &Template::default()).unwrap()
    }

    #[test]
    fn guard_runs_a_good_script() {
        let Some((code, out, err)) = host_python(&job("print('hello')\n", "").program()) else {
            return; // no host python
        };
        assert_eq!((code, out.as_str()), (0, "hello\n"), "{err}");
    }

    #[test]
    fn guard_refuses_a_tampered_script_before_running_it() {
        let mut a = job("", "x = 1\nprint('ran')\n");
        // Dedent the section's last line out of the template function (still valid Python).
        a.rendered
            .replace_script(|s| s.replace("    print('ran')\n", "print('ran')\n"));
        let Some((code, out, err)) = host_python(&a.program()) else {
            return;
        };
        assert_eq!(code, GUARD_EXIT, "{err}");
        assert_eq!(out, "");
        assert!(err.starts_with(GUARD_PREFIX), "{err}");
        let e = a.guard_error(err.strip_prefix(GUARD_PREFIX).unwrap_or(""));
        assert_eq!(e.section(), Some(Section::After));
        assert_eq!(e.line(), Some(5));
        assert!(e.to_string().contains("escapes its block"), "{e}");

        // A template statement changed.
        let mut a = job("x = 1\n", "");
        a.rendered
            .replace_script(|s| s.replace("key=lambda p: p.name", "key=lambda p: p"));
        let Some((code, out, err)) = host_python(&a.program()) else {
            return;
        };
        assert_eq!((code, out.as_str()), (GUARD_EXIT, ""), "{err}");
        assert!(err.contains("the template's structure changed"), "{err}");
    }
}
