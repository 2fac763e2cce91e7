//! Host-owned templates: fixed Python with one `{{before}}`, `{{loop}}` and `{{after}}`
//! placeholder line each.
//!
//! A template is validated when it is loaded: each placeholder appears exactly once, alone on
//! its line (spaces or tabs around it allowed); placeholder text appears nowhere else; the
//! template with every placeholder replaced by `pass` is valid Python (checked and normalized
//! like a section: see [`fragment`](super::fragment)) in which each of those `pass` lines is a
//! statement of its own. That `pass` version is the template's *skeleton*, which the rendered
//! script is verified against.
//!
//! Names starting with `_runcell` are reserved for templates: sections may not use them, so a
//! template can keep its private state under such names.

use std::path::Path;
use std::sync::OnceLock;

use tree_sitter::Tree;

use super::MAX_SOURCE_BYTES;
use super::error::{Error, Section};
use super::fragment::{self, Problem};
use super::python;
use super::sections::{find_placeholder, read_text};

/// The default template.
///
/// It runs the before-section once, then the loop-section once per input in sorted order, then
/// the after-section, all inside one function (`_runcell_main`) so that section code assigns
/// function locals and cannot rebind the template's module-level names. Bound for the
/// sections: `inputs`, the sorted list of input paths (`pathlib.Path`, regular files directly
/// under `/inputs`); in the loop, `path` (the current `pathlib.Path`) and `content` (its text,
/// decoded as UTF-8 exactly, no newline translation). The iteration itself is a generator
/// created before any section code runs and passed in under a reserved name, so no section can
/// change which files are visited.
pub const DEFAULT_TEMPLATE: &str = r#"# runcell aggregate: default template. Names starting with _runcell are reserved.
import pathlib as _runcell_pathlib


def _runcell_list_inputs():
    """The regular files directly under /inputs, sorted by name."""
    root = _runcell_pathlib.Path("/inputs")
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_file()), key=lambda p: p.name)


def _runcell_read_inputs(files):
    """Yield (path, text) for each file; the text is decoded strictly as UTF-8."""
    for file in files:
        yield file, file.read_bytes().decode("utf-8")


def _runcell_main(inputs, _runcell_items):
    {{before}}
    for path, content in _runcell_items:
        {{loop}}
    {{after}}


_runcell_files = _runcell_list_inputs()
_runcell_main(list(_runcell_files), _runcell_read_inputs(_runcell_files))
"#;

/// Where a placeholder sits in the template.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    /// 0-based line of the placeholder in the template.
    pub row: usize,
    /// Its indentation, in spaces (after normalization).
    pub indent: usize,
}

/// A validated template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The skeleton's lines (placeholders replaced by `pass`), normalized.
    lines: Vec<String>,
    slots: [Slot; 3],
    /// The skeleton's text and tree, for the structural check.
    skeleton: String,
    tree: Tree,
}

impl Default for Template {
    /// The built-in [`DEFAULT_TEMPLATE`].
    fn default() -> Self {
        static BUILT_IN: OnceLock<Template> = OnceLock::new();
        BUILT_IN
            .get_or_init(|| {
                // A constant, checked by the tests; no input reaches this.
                #[allow(clippy::expect_used)]
                Template::parse(DEFAULT_TEMPLATE).expect("the built-in template is valid")
            })
            .clone()
    }
}

impl Template {
    /// Validate a host template.
    pub fn parse(text: &str) -> Result<Template, Error> {
        if text.len() > MAX_SOURCE_BYTES {
            return Err(Error::TooLarge {
                what: "template",
                size: text.len(),
                limit: MAX_SOURCE_BYTES,
            });
        }
        let raw = fragment::split_lines(text);
        let mut rows: [Option<usize>; 3] = [None; 3];
        let mut skeleton: Vec<String> = Vec::with_capacity(raw.len());
        for (row, line) in raw.iter().enumerate() {
            let trimmed = line.trim_matches([' ', '\t']);
            match Section::ALL
                .into_iter()
                .find(|s| s.placeholder() == trimmed)
            {
                Some(s) => {
                    if let Some(first) = rows[s.index()] {
                        return Err(Error::Template {
                            line: row + 1,
                            message: format!(
                                "placeholder `{}` appears twice (first on line {})",
                                s.placeholder(),
                                first + 1
                            ),
                        });
                    }
                    rows[s.index()] = Some(row);
                    let lead = line.len() - line.trim_start_matches([' ', '\t']).len();
                    skeleton.push(format!("{}pass", &line[..lead]));
                }
                None => {
                    if let Some(found) = find_placeholder(line) {
                        return Err(Error::Template {
                            line: row + 1,
                            message: format!("placeholder `{found}` must be alone on its line"),
                        });
                    }
                    skeleton.push((*line).to_string());
                }
            }
        }
        let mut slot_rows = [0usize; 3];
        for s in Section::ALL {
            slot_rows[s.index()] = rows[s.index()].ok_or_else(|| Error::Template {
                line: raw.len().max(1),
                message: format!("placeholder `{}` is missing", s.placeholder()),
            })?;
        }

        let refs: Vec<&str> = skeleton.iter().map(String::as_str).collect();
        let frag = fragment::normalize(&refs).map_err(template_problem)?;
        let mut slots = [Slot { row: 0, indent: 0 }; 3];
        for s in Section::ALL {
            let row = slot_rows[s.index()];
            let line = frag.lines.get(row).ok_or_else(|| Error::Template {
                line: row + 1,
                message: "internal: placeholder line lost".into(),
            })?;
            let indent = line.new_lead;
            let is_statement = python::preorder(&frag.tree).into_iter().any(|n| {
                n.kind() == "pass_statement"
                    && n.start_position().row == row
                    && n.start_position().column == indent
                    && n.parent()
                        .is_some_and(|p| matches!(p.kind(), "block" | "module"))
            });
            if !is_statement {
                return Err(Error::Template {
                    line: row + 1,
                    message: format!(
                        "placeholder `{}` is not in a statement position (inside a string or \
                         bracket, or after a `;`?)",
                        s.placeholder()
                    ),
                });
            }
            slots[s.index()] = Slot { row, indent };
        }
        Ok(Template {
            lines: frag.lines.into_iter().map(|l| l.text).collect(),
            slots,
            skeleton: frag.text,
            tree: frag.tree,
        })
    }

    /// Read and validate a template file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Template, Error> {
        Template::parse(&read_text(path.as_ref())?)
    }

    /// The skeleton: the template with each placeholder replaced by `pass`, normalized.
    pub fn skeleton(&self) -> &str {
        &self.skeleton
    }

    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }

    pub(crate) fn slot(&self, section: Section) -> Slot {
        self.slots[section.index()]
    }

    pub(crate) fn tree(&self) -> &Tree {
        &self.tree
    }
}

fn template_problem(p: Problem) -> Error {
    let (row, message) = match p {
        Problem::Character { row, column, ch } => (
            row,
            format!(
                "column {column}: character U+{:04X} is not allowed",
                ch as u32
            ),
        ),
        Problem::Syntax {
            row,
            column,
            message,
        } => (row, format!("column {column}: not valid Python: {message}")),
        Problem::Indentation { row, message } => (row, message),
        Problem::TrailingBackslash { row } => (row, "trailing backslash".to_string()),
    };
    Error::Template {
        line: row + 1,
        message,
    }
}
