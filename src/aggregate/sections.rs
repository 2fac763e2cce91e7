//! The sections file: three marked sections of Python, each checked on its own.
//!
//! Format: the markers `###Code Before Loop###`, `###Loop Code###` and
//! `###Code After For Loop###`, in that order, each exactly once and alone on its line
//! (spaces and tabs around it are allowed). Lines end with LF or CRLF; a leading BOM is
//! ignored. Before the first marker only blank lines and comment lines (`#...`) are allowed, so
//! a file may start with a header comment; anything else there is an error. Everything after
//! the last marker is the after-section. Empty sections are allowed.
//!
//! Each section must be a complete block of Python by itself (this is what stops a string or a
//! backslash continuation opened in one section from swallowing template code), must not use
//! the constructs listed in [`rules`](super::rules), must not contain placeholder text such as
//! `{{after}}`, and must pass the static analyzer with no finding of warning or above.

use std::path::Path;

use crate::analyze::{self, Finding, Rules, Severity};

use super::error::{Error, Section};
use super::fragment::{self, Fragment, Problem};
use super::{MAX_SOURCE_BYTES, rules};

/// One checked section.
#[derive(Debug, Clone)]
pub struct SectionCode {
    section: Section,
    /// 1-based line in the sections file of the section's first line (the marker's line + 1).
    first_line: usize,
    fragment: Fragment,
}

impl SectionCode {
    /// Which section this is.
    pub fn section(&self) -> Section {
        self.section
    }

    /// The section's code as it will be rendered (indentation normalized to spaces, LF line
    /// ends), before re-indentation to the placeholder.
    pub fn source(&self) -> &str {
        &self.fragment.text
    }

    /// The 1-based line in the sections file where the section's code starts.
    pub fn first_line(&self) -> usize {
        self.first_line
    }

    /// True when the section has no statements (only blank lines and comments, or nothing).
    pub fn is_empty(&self) -> bool {
        let root = self.fragment.tree.root_node();
        let mut cursor = root.walk();
        !root
            .named_children(&mut cursor)
            .any(|n| n.kind() != "comment")
    }

    pub(crate) fn fragment(&self) -> &Fragment {
        &self.fragment
    }

    /// The sections-file line of a 0-based row of this section.
    pub(crate) fn file_line(&self, row: usize) -> usize {
        self.first_line + row
    }
}

/// The three checked sections of a sections file.
#[derive(Debug, Clone)]
pub struct Sections {
    parts: [SectionCode; 3],
}

impl Sections {
    /// Parse and check a sections file with the default analyzer rules.
    pub fn parse(text: &str) -> Result<Sections, Error> {
        Sections::parse_with_rules(text, &Rules::default())
    }

    /// Parse and check a sections file, analyzing each section with `rules`.
    pub fn parse_with_rules(text: &str, rules: &Rules) -> Result<Sections, Error> {
        if text.len() > MAX_SOURCE_BYTES {
            return Err(Error::TooLarge {
                what: "sections file",
                size: text.len(),
                limit: MAX_SOURCE_BYTES,
            });
        }
        let lines = fragment::split_lines(text);
        let markers = find_markers(&lines)?;
        check_header(&lines[..markers[0]])?;

        let mut parts = Vec::with_capacity(3);
        for (i, section) in Section::ALL.into_iter().enumerate() {
            let start = markers[i] + 1;
            let end = markers.get(i + 1).copied().unwrap_or(lines.len());
            parts.push(check_section(
                section,
                start + 1,
                &lines[start..end],
                rules,
            )?);
        }
        let parts: [SectionCode; 3] = parts.try_into().map_err(|_| Error::Structure {
            section: None,
            line: 1,
            message: "internal: expected three sections".into(),
        })?;
        // The sections share one scope when they run: a name bound in one (`import os`) is
        // used in another (`os.system(...)`). Analyze them together too, in running order.
        let findings = combined_findings(&parts, rules);
        if let Some(first) = findings.first() {
            let section = parts
                .iter()
                .rev()
                .find(|p| p.first_line <= first.line)
                .map_or(Section::Before, |p| p.section);
            return Err(Error::Analysis {
                section,
                line: first.line,
                findings,
            });
        }
        Ok(Sections { parts })
    }

    /// Read and parse a sections file with the given rules.
    pub fn from_file(path: impl AsRef<Path>, rules: &Rules) -> Result<Sections, Error> {
        let text = read_text(path.as_ref())?;
        Sections::parse_with_rules(&text, rules)
    }

    /// One section.
    pub fn get(&self, section: Section) -> &SectionCode {
        &self.parts[section.index()]
    }

    #[cfg(test)]
    pub(crate) fn fragment_mut(&mut self, section: Section) -> &mut Fragment {
        &mut self.parts[section.index()].fragment
    }

    /// The sections in file order.
    pub fn iter(&self) -> impl Iterator<Item = &SectionCode> {
        self.parts.iter()
    }
}

/// Read a UTF-8 text file (sections file, template).
pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_path_buf(),
    })
}

/// Which marker, if any, a line is. `Err` for a near miss (the marker followed by more text, or
/// the marker's words with other spacing, case or number of `#`), almost certainly a typo.
fn marker_of(line: &str) -> Result<Option<Section>, (String, Section)> {
    let trimmed = line.trim_matches([' ', '\t']);
    if let Some(s) = Section::ALL.into_iter().find(|s| s.marker() == trimmed) {
        return Ok(Some(s));
    }
    if let Some(s) = Section::ALL
        .into_iter()
        .find(|s| trimmed.starts_with(s.marker()))
    {
        return Err((trimmed.to_string(), s));
    }
    if trimmed.starts_with("##") {
        let squash = |t: &str| -> String {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let squashed = squash(trimmed);
        if let Some(s) = Section::ALL
            .into_iter()
            .find(|s| squash(s.marker()) == squashed)
        {
            return Err((trimmed.to_string(), s));
        }
    }
    Ok(None)
}

/// The 0-based line index of each marker, in order, after checking count and order.
fn find_markers(lines: &[&str]) -> Result<[usize; 3], Error> {
    let mut found: Vec<(Section, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match marker_of(line) {
            Ok(Some(s)) => found.push((s, i)),
            Ok(None) => {}
            Err((text, intended)) => {
                return Err(Error::MalformedMarker {
                    line: i + 1,
                    text,
                    intended,
                });
            }
        }
    }
    // Duplicates first: the second occurrence is the one reported.
    for (k, &(s, i)) in found.iter().enumerate() {
        if let Some(&(_, first)) = found[..k].iter().find(|(t, _)| *t == s) {
            return Err(Error::DuplicateMarker {
                marker: s,
                line: i + 1,
                first_line: first + 1,
            });
        }
    }
    // Missing: reported at the line of the marker that comes where it should have, or at the
    // end of the file.
    for (k, s) in Section::ALL.into_iter().enumerate() {
        if !found.iter().any(|(t, _)| *t == s) {
            let later = found
                .iter()
                .filter(|(t, _)| t.index() > k)
                .map(|(_, i)| *i)
                .min();
            let line = later.map_or(lines.len().max(1), |i| i + 1);
            return Err(Error::MissingMarker { marker: s, line });
        }
    }
    // Order.
    for (k, &(s, i)) in found.iter().enumerate() {
        let expected = Section::ALL[k];
        if s != expected {
            return Err(Error::MisorderedMarker {
                marker: s,
                line: i + 1,
                expected,
            });
        }
    }
    Ok([found[0].1, found[1].1, found[2].1])
}

/// Before the first marker: only blank lines and comments.
fn check_header(lines: &[&str]) -> Result<(), Error> {
    if let Some((row, column, character)) = fragment::first_forbidden_char(lines) {
        return Err(Error::ForbiddenCharacter {
            section: None,
            line: row + 1,
            column,
            character,
        });
    }
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_matches([' ', '\t']);
        if !t.is_empty() && !t.starts_with('#') {
            return Err(Error::TextBeforeFirstMarker { line: i + 1 });
        }
    }
    Ok(())
}

/// Placeholder text (`{{before}}`, `{{ loop }}`, ...) anywhere in a line.
pub(crate) fn find_placeholder(line: &str) -> Option<String> {
    let mut rest = line;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        if let Some(close) = after.find("}}") {
            let inner = after[..close].trim_matches([' ', '\t']);
            if Section::ALL.iter().any(|s| s.name() == inner) {
                return Some(format!("{{{{{}}}}}", &after[..close]));
            }
        }
        rest = after;
    }
    None
}

/// Check one section; `first_line` is the 1-based file line of `lines[0]`.
fn check_section(
    section: Section,
    first_line: usize,
    lines: &[&str],
    rules: &Rules,
) -> Result<SectionCode, Error> {
    if let Some((row, column, character)) = fragment::first_forbidden_char(lines) {
        return Err(Error::ForbiddenCharacter {
            section: Some(section),
            line: first_line + row,
            column,
            character,
        });
    }
    for (row, line) in lines.iter().enumerate() {
        if let Some(text) = find_placeholder(line) {
            return Err(Error::PlaceholderInSection {
                section,
                line: first_line + row,
                text,
            });
        }
    }
    let fragment = fragment::normalize(lines).map_err(|p| problem(section, first_line, p))?;
    if let Err(v) = rules::check(&fragment.tree, &fragment.text, section) {
        let column = fragment
            .lines
            .get(v.row)
            .map_or(v.byte_col + 1, |l| original_column(l, v.byte_col));
        return Err(Error::Forbidden {
            section,
            line: first_line + v.row,
            column,
            construct: v.construct,
            message: v.message,
        });
    }
    let code = SectionCode {
        section,
        first_line,
        fragment,
    };
    let findings = blocking_findings(&code, rules);
    if let Some(first) = findings.first() {
        return Err(Error::Analysis {
            section,
            line: first.line,
            findings,
        });
    }
    Ok(code)
}

fn problem(section: Section, first_line: usize, p: Problem) -> Error {
    match p {
        Problem::Character { row, column, ch } => Error::ForbiddenCharacter {
            section: Some(section),
            line: first_line + row,
            column,
            character: ch,
        },
        Problem::Syntax {
            row,
            column,
            message,
        } => Error::Syntax {
            section,
            line: first_line + row,
            column,
            message,
        },
        Problem::Indentation { row, message } => Error::Indentation {
            section,
            line: first_line + row,
            message,
        },
        Problem::TrailingBackslash { row } => Error::TrailingBackslash {
            section,
            line: first_line + row,
        },
    }
}

/// A 1-based column in the normalized line mapped back to the user's line (only the leading
/// whitespace changed).
fn original_column(line: &fragment::Line, byte_col: usize) -> usize {
    if byte_col >= line.new_lead {
        byte_col - line.new_lead + line.orig_lead + 1
    } else {
        byte_col.min(line.orig_lead) + 1
    }
}

/// Findings of warning and above in the three sections analyzed as one program (in the order
/// they run), mapped back to the sections file.
fn combined_findings(parts: &[SectionCode; 3], rules: &Rules) -> Vec<Finding> {
    let mut text = String::new();
    // (first combined line, section) for each part, 1-based.
    let mut starts = Vec::with_capacity(3);
    let mut next_line = 1;
    for p in parts {
        starts.push((next_line, p));
        text.push_str(&p.fragment.text);
        if !p.fragment.text.is_empty() && !p.fragment.text.ends_with('\n') {
            text.push('\n');
        }
        next_line = text.matches('\n').count() + 1;
    }
    let locate = |line: usize| -> Option<(&SectionCode, usize)> {
        starts
            .iter()
            .rev()
            .find(|(start, _)| *start <= line)
            .map(|(start, p)| (*p, line - start + 1))
    };
    let report = analyze::python(&text, rules);
    report
        .findings
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .filter_map(|mut f| {
            let (code, line) = locate(f.line)?;
            let (end_code, end_line) = locate(f.end_line)?;
            let map_col = |code: &SectionCode, line: usize, col: usize| {
                code.fragment
                    .lines
                    .get(line.saturating_sub(1))
                    .map_or(col, |l| original_column(l, col.saturating_sub(1)))
            };
            f.column = map_col(code, line, f.column);
            f.end_column = map_col(end_code, end_line, f.end_column);
            f.line = code.file_line(line.saturating_sub(1));
            f.end_line = end_code.file_line(end_line.saturating_sub(1));
            Some(f)
        })
        .collect()
}

/// Findings of warning and above, with lines and columns mapped to the sections file.
fn blocking_findings(code: &SectionCode, rules: &Rules) -> Vec<Finding> {
    let report = analyze::python(&code.fragment.text, rules);
    report
        .findings
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|mut f| {
            let map_col = |line: usize, col: usize| {
                code.fragment
                    .lines
                    .get(line.saturating_sub(1))
                    .map_or(col, |l| original_column(l, col.saturating_sub(1)))
            };
            f.column = map_col(f.line, f.column);
            f.end_column = map_col(f.end_line, f.end_column);
            f.line = code.file_line(f.line.saturating_sub(1));
            f.end_line = code.file_line(f.end_line.saturating_sub(1));
            f
        })
        .collect()
}
