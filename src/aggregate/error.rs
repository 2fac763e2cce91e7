//! The section names and the one error type of the aggregation API.
//!
//! Every error that comes from the user's sections file names the section (when there is one)
//! and the 1-based line in that file, so a host can show it to the user as is.

use std::fmt;
use std::path::PathBuf;

use crate::analyze::Finding;

/// One of the three sections of a sections file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// `###Code Before Loop###`: runs once, before the first input.
    Before,
    /// `###Loop Code###`: runs once per input file.
    Loop,
    /// `###Code After For Loop###`: runs once, after the last input.
    After,
}

impl Section {
    /// The three sections in the order they must appear.
    pub const ALL: [Section; 3] = [Section::Before, Section::Loop, Section::After];

    /// The marker line that opens this section in a sections file.
    pub fn marker(self) -> &'static str {
        match self {
            Section::Before => "###Code Before Loop###",
            Section::Loop => "###Loop Code###",
            Section::After => "###Code After For Loop###",
        }
    }

    /// The placeholder line that stands for this section in a template.
    pub fn placeholder(self) -> &'static str {
        match self {
            Section::Before => "{{before}}",
            Section::Loop => "{{loop}}",
            Section::After => "{{after}}",
        }
    }

    /// Short lowercase name (`before`, `loop`, `after`), as used in placeholders.
    pub fn name(self) -> &'static str {
        match self {
            Section::Before => "before",
            Section::Loop => "loop",
            Section::After => "after",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Section::Before => 0,
            Section::Loop => 1,
            Section::After => 2,
        }
    }
}

impl fmt::Display for Section {
    /// The marker's text without the `###`, e.g. `Loop Code`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.marker().trim_matches('#'))
    }
}

/// Everything that can go wrong, from parsing a sections file to running the job.
///
/// Variants about the sections file carry `line`, the 1-based line in that file (for a missing
/// marker: the line by which it was expected), and `section` where the problem is inside one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A marker does not appear at all.
    #[error("line {line}: missing marker `{}` (expected by this line)", .marker.marker())]
    MissingMarker {
        /// The marker concerned.
        marker: Section,
        /// 1-based line in the sections file.
        line: usize,
    },

    /// A marker appears more than once.
    #[error("line {line}: duplicated marker `{}` (first on line {first_line})", .marker.marker())]
    DuplicateMarker {
        /// The marker concerned.
        marker: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// 1-based line of its first occurrence.
        first_line: usize,
    },

    /// The markers are not in the order before, loop, after.
    #[error("line {line}: marker `{}` is out of order: expected `{}` here", .marker.marker(), .expected.marker())]
    MisorderedMarker {
        /// The marker concerned.
        marker: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// The marker expected at this point.
        expected: Section,
    },

    /// A line that looks like a marker (right words, wrong spelling or spacing).
    #[error("line {line}: `{text}` looks like a marker but is not exactly `{}`", .intended.marker())]
    MalformedMarker {
        /// 1-based line in the sections file.
        line: usize,
        /// The text found.
        text: String,
        /// The marker it resembles.
        intended: Section,
    },

    /// Code before the first marker (only blank lines and comments may precede it).
    #[error("line {line}: text before the first marker `{}` (only blank lines and comments may come before it)", Section::Before.marker())]
    TextBeforeFirstMarker {
        /// 1-based line in the sections file.
        line: usize,
    },

    /// A character that the tokenizers treat differently (form feed, lone CR, NUL, ...).
    #[error("{}: character {} is not allowed in a sections file", at(.section, .line), describe_char(*.character))]
    ForbiddenCharacter {
        /// The section, when the problem is inside one.
        section: Option<Section>,
        /// 1-based line in the sections file.
        line: usize,
        /// 1-based column (characters) in that line.
        column: usize,
        /// The offending character.
        character: char,
    },

    /// A template placeholder such as `{{after}}` typed inside a section.
    #[error("{}: placeholder text `{text}` is not allowed inside a section", at(&Some(*.section), .line))]
    PlaceholderInSection {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// The text found.
        text: String,
    },

    /// The section does not parse as a complete block of Python on its own.
    #[error("{}: the section does not parse as Python on its own: {message}", at(&Some(*.section), .line))]
    Syntax {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// 1-based column (characters) in that line.
        column: usize,
        /// What is wrong.
        message: String,
    },

    /// Inconsistent or excessive indentation (tabs mixed with spaces, unmatched dedent, ...).
    #[error("{}: {message}", at(&Some(*.section), .line))]
    Indentation {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// The section's last line continues (`\`) into whatever follows the section.
    #[error("{}: trailing backslash: the section's last line continues into the template", at(&Some(*.section), .line))]
    TrailingBackslash {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
    },

    /// A construct that would reach out of the section (`return`, `yield`, `global`, ...).
    #[error("{}: {message}", at(&Some(*.section), .line))]
    Forbidden {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// 1-based column (characters) in that line.
        column: usize,
        /// The construct refused (`return`, `global`, ...).
        construct: String,
        /// What is wrong.
        message: String,
    },

    /// The static analyzer found something of severity warning or above.
    #[error("{}: static analysis: {}", at(&Some(*.section), .line), summarize(.findings))]
    Analysis {
        /// The section concerned.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
        /// The blocking findings, with lines and columns in the user's sections file.
        findings: Vec<Finding>,
    },

    /// The input is larger than [`MAX_SOURCE_BYTES`](super::MAX_SOURCE_BYTES).
    #[error("the {what} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// What was too large (`sections file`, `template`).
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// A host template is invalid (line is 1-based in the template).
    #[error("template line {line}: {message}")]
    Template {
        /// 1-based line in the template.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// The rendered script's structure differs from the template's; nothing was run.
    #[error("{}: structure check failed: {message}", at(.section, .line))]
    Structure {
        /// The section, when the problem is inside one.
        section: Option<Section>,
        /// A line in the sections file when the problem is in a section, else in the template.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// A file (sections file, template) could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file given to the API is not UTF-8 text.
    #[error("{} is not UTF-8 text", .path.display())]
    NotText {
        /// The path concerned.
        path: PathBuf,
    },

    /// The inputs directory is missing, not a directory, or not usable by the sandbox.
    #[error("inputs {}: {reason}", .path.display())]
    Inputs {
        /// The path concerned.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// One input file cannot be given to the job (unreadable, not a regular file, not UTF-8).
    #[error("input {}: {reason}", .path.display())]
    Input {
        /// The path concerned.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// Building or running the sandbox failed.
    #[error("sandbox: {0}")]
    Sandbox(
        /// The sandbox error.
        #[from]
        crate::Error,
    ),
}

impl Error {
    /// The section the error is in, when it is about one section.
    pub fn section(&self) -> Option<Section> {
        match self {
            Error::ForbiddenCharacter { section, .. } | Error::Structure { section, .. } => {
                *section
            }
            Error::PlaceholderInSection { section, .. }
            | Error::Syntax { section, .. }
            | Error::Indentation { section, .. }
            | Error::TrailingBackslash { section, .. }
            | Error::Forbidden { section, .. }
            | Error::Analysis { section, .. } => Some(*section),
            _ => None,
        }
    }

    /// The 1-based line in the sections file (or the template, for template errors).
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::MissingMarker { line, .. }
            | Error::DuplicateMarker { line, .. }
            | Error::MisorderedMarker { line, .. }
            | Error::MalformedMarker { line, .. }
            | Error::TextBeforeFirstMarker { line }
            | Error::ForbiddenCharacter { line, .. }
            | Error::PlaceholderInSection { line, .. }
            | Error::Syntax { line, .. }
            | Error::Indentation { line, .. }
            | Error::TrailingBackslash { line, .. }
            | Error::Forbidden { line, .. }
            | Error::Analysis { line, .. }
            | Error::Template { line, .. }
            | Error::Structure { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// `section `Loop Code`, line 7` or `line 7`.
fn at(section: &Option<Section>, line: &usize) -> String {
    match section {
        Some(s) => format!("section `{s}`, line {line}"),
        None => format!("line {line}"),
    }
}

fn describe_char(c: char) -> String {
    let name = match c {
        '\0' => " (NUL)",
        '\x0b' => " (vertical tab)",
        '\x0c' => " (form feed)",
        '\r' => " (carriage return not followed by a line feed)",
        '\u{feff}' => " (byte order mark / zero width no-break space)",
        '\u{2028}' => " (line separator)",
        '\u{2029}' => " (paragraph separator)",
        '\u{85}' => " (next line)",
        c if c.is_whitespace() => " (non-ASCII whitespace outside a string)",
        _ => "",
    };
    format!("U+{:04X}{name}", c as u32)
}

fn summarize(findings: &[Finding]) -> String {
    match findings.first() {
        None => "blocking finding".to_string(),
        Some(f) => {
            let more = findings.len() - 1;
            let tail = if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            };
            format!("[{}] {} (column {}){tail}", f.rule, f.message, f.column)
        }
    }
}
