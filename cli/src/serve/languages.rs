//! The language table (policies/languages.toml): Judge0 ids and Piston runtime names mapped to
//! a runcell profile, a source file and compile/run commands. Versions in names are detected
//! on the host at startup, so a name states the toolchain that really runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The built-in table.
const BUILTIN: &str = include_str!("../../../policies/languages.toml");

/// One language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    /// Judge0 language id.
    pub id: i64,
    /// Display name (with the detected version).
    pub name: String,
    /// Host command printing the version.
    #[serde(default)]
    pub version_cmd: Vec<String>,
    /// Piston runtime name first, then aliases.
    #[serde(default)]
    pub piston: Vec<String>,
    /// runcell profile name.
    pub profile: String,
    /// File name of the source in the job directory.
    pub source_file: String,
    /// Compile command (bash), `%s` = compiler options.
    pub compile_cmd: Option<String>,
    /// Run command (bash); arguments are appended.
    pub run_cmd: String,
    /// Environment on top of the profile's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Profile variables removed.
    #[serde(default)]
    pub env_remove: Vec<String>,
    /// Judge0's "Multi-file program": everything comes from additional_files.
    #[serde(default)]
    pub is_project: bool,
    /// Memory floor where memory is enforced with RLIMIT_AS only.
    pub rlimit_memory_kb: Option<u64>,
    /// The detected version (empty when unknown).
    #[serde(skip)]
    pub version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    language: Vec<Language>,
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct Languages {
    list: Vec<Language>,
}

/// First `N.N` or `N.N.N` in `text` (a leading `v` allowed, as in `v20.1.0`).
fn version_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|w| w.strip_prefix('v').unwrap_or(w))
        .filter(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(|w| {
            w.split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .next()
                .unwrap_or("")
                .trim_end_matches('.')
        })
        .find(|w| w.contains('.'))
        .map(str::to_string)
}

fn detect(cmd: &[String]) -> String {
    let Some((prog, args)) = cmd.split_first() else {
        return String::new();
    };
    match std::process::Command::new(prog).args(args).output() {
        Ok(out) => {
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            version_in(&text).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

impl Languages {
    /// Load the table from `path` (or the built-in one) and detect host versions.
    pub fn load(path: Option<&Path>) -> Result<Languages, String> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read languages {}: {e}", p.display()))?,
            None => BUILTIN.to_string(),
        };
        let file: File = toml::from_str(&text).map_err(|e| format!("languages: {e}"))?;
        let mut list = file.language;
        for l in &mut list {
            if !l.is_project && l.source_file.is_empty() {
                return Err(format!("language {}: empty source_file", l.id));
            }
            if l.source_file.contains('/') || l.source_file == ".." {
                return Err(format!(
                    "language {}: source_file must be a plain name",
                    l.id
                ));
            }
            runcell::Profile::named(&l.profile)
                .map_err(|e| format!("language {}: profile {}: {e}", l.id, l.profile))?;
            l.version = detect(&l.version_cmd);
            let v = if l.version.is_empty() {
                "unknown version".to_string()
            } else {
                l.version.clone()
            };
            l.name = l.name.replace("{version}", &v);
        }
        list.sort_by_key(|l| l.id);
        Ok(Languages { list })
    }

    /// By Judge0 id.
    pub fn get(&self, id: i64) -> Option<&Language> {
        self.list.iter().find(|l| l.id == id)
    }

    /// By Piston name or alias.
    pub fn by_piston(&self, name: &str) -> Option<&Language> {
        self.list
            .iter()
            .find(|l| l.piston.iter().any(|p| p == name))
    }

    /// All languages, by id.
    pub fn all(&self) -> &[Language] {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_tool_banners() {
        assert_eq!(version_in("Python 3.11.2").as_deref(), Some("3.11.2"));
        assert_eq!(version_in("v20.20.2\n").as_deref(), Some("20.20.2"));
        assert_eq!(version_in("javac 17.0.15").as_deref(), Some("17.0.15"));
        assert_eq!(
            version_in("GNU bash, version 5.2.15(1)-release (x86_64)").as_deref(),
            Some("5.2.15")
        );
        assert_eq!(version_in("x86_64 none"), None);
    }

    #[test]
    fn builtin_table_has_the_sdk_ids() {
        let l = Languages::load(None).expect("built-in table loads");
        for id in [46, 50, 52, 62, 63, 71, 89] {
            assert!(l.get(id).is_some(), "language {id}");
        }
        assert_eq!(l.by_piston("python").map(|l| l.id), Some(71));
    }
}
