//! Rendering: the template's lines with each placeholder replaced by its section.
//!
//! Each placeholder line becomes `pass` at the placeholder's indentation (so the block is never
//! empty, and the skeleton stays the same), followed by the section's lines re-indented by the
//! placeholder's indentation: code lines get that many spaces in front (their own leading
//! whitespace is already spaces, see [`fragment`](super::fragment)); blank lines become empty;
//! lines that start inside a string literal are copied byte for byte, because adding spaces
//! there would change the string. Line ends are LF.
//!
//! The script starts with a two-line header that declares UTF-8, so that no later line (a
//! section placed first by a host template, say) can act as a PEP 263 coding declaration.
//! Rendering does not prove anything by itself: [`verify`](super::verify) does.

use super::error::{Error, Section};
use super::sections::Sections;
use super::template::Template;
use super::verify;

/// The header lines of every rendered script.
pub(crate) const HEADER: [&str; 2] = [
    "# -*- coding: utf-8 -*-",
    "# Rendered by runcell aggregate from a template and a sections file.",
];

/// Where a line of the rendered script comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The fixed header.
    Header,
    /// The template (1-based template line); includes the `pass` that replaced a placeholder.
    Template {
        /// 1-based line in the template.
        line: usize,
    },
    /// A section (1-based line in the sections file).
    Section {
        /// The section.
        section: Section,
        /// 1-based line in the sections file.
        line: usize,
    },
}

/// The rows a section occupies in the rendered script (0-based).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// The `pass` that replaced the placeholder.
    pub marker_row: usize,
    /// Its indentation in spaces.
    pub indent: usize,
    /// The section's lines: `first_row..end_row`.
    pub first_row: usize,
    pub end_row: usize,
}

/// A rendered and structurally verified script.
#[derive(Debug, Clone)]
pub struct Rendered {
    script: String,
    origins: Vec<Origin>,
    spans: [Span; 3],
}

impl Rendered {
    /// The Python script.
    pub fn script(&self) -> &str {
        &self.script
    }

    /// Where the 1-based line `line` of the script comes from.
    pub fn origin(&self, line: usize) -> Option<Origin> {
        self.origins.get(line.checked_sub(1)?).copied()
    }

    /// The 1-based lines of the script that hold `section`'s code (empty range if none).
    pub fn section_lines(&self, section: Section) -> std::ops::Range<usize> {
        let s = self.spans[section.index()];
        s.first_row + 1..s.end_row + 1
    }

    #[cfg(test)]
    pub(crate) fn replace_script(&mut self, f: impl FnOnce(&str) -> String) {
        self.script = f(&self.script);
    }

    pub(crate) fn span(&self, section: Section) -> Span {
        self.spans[section.index()]
    }
}

impl Sections {
    /// Render the sections into `template` and verify the result's structure (see
    /// [`verify`](super::verify)). Nothing is run.
    pub fn render(&self, template: &Template) -> Result<Rendered, Error> {
        let rendered = render_unverified(self, template);
        verify::verify(&rendered, template)?;
        Ok(rendered)
    }
}

pub(crate) fn render_unverified(sections: &Sections, template: &Template) -> Rendered {
    let mut script = String::new();
    let mut origins = Vec::new();
    let push = |script: &mut String, origins: &mut Vec<Origin>, line: &str, origin: Origin| {
        script.push_str(line);
        script.push('\n');
        origins.push(origin);
    };
    for h in HEADER {
        push(&mut script, &mut origins, h, Origin::Header);
    }
    let mut spans = [Span {
        marker_row: 0,
        indent: 0,
        first_row: 0,
        end_row: 0,
    }; 3];
    let slots = Section::ALL.map(|s| (s, template.slot(s)));
    for (row, line) in template.lines().iter().enumerate() {
        let Some(&(section, slot)) = slots.iter().find(|(_, slot)| slot.row == row) else {
            push(
                &mut script,
                &mut origins,
                line,
                Origin::Template { line: row + 1 },
            );
            continue;
        };
        let pad = " ".repeat(slot.indent);
        let marker_row = origins.len();
        push(
            &mut script,
            &mut origins,
            &format!("{pad}pass  # runcell: {} section", section.name()),
            Origin::Template { line: row + 1 },
        );
        let code = sections.get(section);
        let first_row = marker_row + 1;
        for (i, l) in code.fragment().lines.iter().enumerate() {
            let origin = Origin::Section {
                section,
                line: code.file_line(i),
            };
            match l.kind {
                super::fragment::LineKind::InString => {
                    push(&mut script, &mut origins, &l.text, origin)
                }
                super::fragment::LineKind::Blank => push(&mut script, &mut origins, "", origin),
                super::fragment::LineKind::Code => push(
                    &mut script,
                    &mut origins,
                    &format!("{pad}{}", l.text),
                    origin,
                ),
            }
        }
        spans[section.index()] = Span {
            marker_row,
            indent: slot.indent,
            first_row,
            end_row: first_row + code.fragment().lines.len(),
        };
    }
    Rendered {
        script,
        origins,
        spans,
    }
}
