//! A piece of Python (one section, or a template) checked and normalized line by line.
//!
//! Why this exists: the rendered script is verified with tree-sitter but run by CPython, so the
//! two must agree on where every line belongs. They agree on strings and brackets, but not on
//! leading whitespace: CPython expands a tab to the next multiple of 8 and rejects indentation
//! whose meaning depends on the tab size (`TabError`), tree-sitter adds a flat 8 per tab and
//! counts in 16 bits; both reset the column at a form feed and tree-sitter also at a lone CR.
//! So this module:
//!
//! 1. rejects characters the tokenizers treat differently (form feed, vertical tab, lone CR,
//!    NUL and other control characters, BOM, Unicode line separators) anywhere, and non-ASCII
//!    whitespace outside strings and comments;
//! 2. classifies each physical line: inside a string literal (kept byte for byte: re-indenting
//!    it would change the string), blank, or code; and finds the logical line starts (code
//!    lines not inside brackets and not continued by a backslash);
//! 3. checks the indentation of logical line starts exactly as CPython does (column with
//!    tab size 8 and with tab size 1 must order lines the same way), with CPython's limit of
//!    100 levels and a 1000-column cap;
//! 4. rewrites the leading whitespace of every code line as spaces (CPython's column), so the
//!    result means the same to CPython and parses the same in tree-sitter;
//! 5. parses the result and requires a tree without errors, and rejects a backslash
//!    continuation that is followed by nothing, a blank line or a comment (CPython and
//!    tree-sitter join those differently; at the end of a section it would continue into the
//!    template).

use tree_sitter::{Node, Tree};

use super::python;

/// CPython refuses more than 100 indentation levels (`MAXINDENT`).
pub(crate) const MAX_INDENT_LEVELS: usize = 100;
/// Syntax trees deeper than this are refused: CPython refuses far less (200 nested brackets,
/// 100 indentation levels), and it bounds the work of every later pass.
pub(crate) const MAX_TREE_DEPTH: usize = 500;
/// Indentation wider than this is refused (tree-sitter counts indentation in 16 bits).
pub(crate) const MAX_INDENT_COLUMNS: usize = 1000;

/// What a physical line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Starts inside a string literal: kept byte for byte, never re-indented.
    InString,
    /// Only spaces and tabs: rendered as an empty line.
    Blank,
    /// Code, a comment, or the continuation of a bracketed or backslash-continued line.
    Code,
}

/// One physical line after normalization.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// The normalized text, without the line break.
    pub text: String,
    pub kind: LineKind,
    /// Bytes of leading whitespace in the original line.
    pub orig_lead: usize,
    /// Bytes of leading whitespace in the normalized line.
    pub new_lead: usize,
}

/// A checked, normalized fragment and its tree-sitter tree.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    /// The normalized lines joined with `\n` (each line ends with `\n`).
    pub text: String,
    pub lines: Vec<Line>,
    pub tree: Tree,
}

/// What is wrong with a fragment; rows are 0-based lines of the fragment, columns 1-based
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Character {
        row: usize,
        column: usize,
        ch: char,
    },
    Syntax {
        row: usize,
        column: usize,
        message: String,
    },
    Indentation {
        row: usize,
        message: String,
    },
    TrailingBackslash {
        row: usize,
    },
}

/// Characters refused everywhere, even inside strings and comments.
pub(crate) fn is_forbidden_char(c: char) -> bool {
    matches!(c,
        '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}'
        | '\u{200b}' | '\u{2028}' | '\u{2029}' | '\u{2060}' | '\u{feff}')
}

/// The first forbidden character in `lines`: (row, 1-based column, char).
pub(crate) fn first_forbidden_char(lines: &[&str]) -> Option<(usize, usize, char)> {
    lines.iter().enumerate().find_map(|(row, line)| {
        line.chars()
            .enumerate()
            .find(|(_, c)| is_forbidden_char(*c))
            .map(|(i, c)| (row, i + 1, c))
    })
}

/// Split text into lines: `\n` or `\r\n` end a line; a final line break adds no empty line.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    lines
}

/// Leading spaces and tabs: (bytes, CPython column with tab size 8, column with tab size 1).
fn leading(line: &str) -> (usize, usize, usize) {
    let mut col = 0usize;
    let mut alt = 0usize;
    let mut bytes = 0usize;
    for b in line.bytes() {
        match b {
            b' ' => {
                col += 1;
                alt += 1;
            }
            b'\t' => {
                col = (col / 8 + 1) * 8;
                alt += 1;
            }
            _ => break,
        }
        bytes += 1;
    }
    (bytes, col, alt)
}

/// 1-based character column of a byte column in `line`.
pub(crate) fn char_column(line: &str, byte_col: usize) -> usize {
    let mut end = byte_col.min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].chars().count() + 1
}

fn join(lines: &[&str]) -> String {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text
}

/// A token in source order: strings are atomic, comments and continuations are kept so the
/// caller can see them.
fn tokens(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        let atomic = node.kind() == "string" || node.child_count() == 0;
        if atomic {
            if node.end_byte() > node.start_byte() {
                out.push(node);
            }
        } else if cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return out;
            }
        }
    }
}

/// Check and normalize `lines` (already split, without line breaks).
pub(crate) fn normalize(lines: &[&str]) -> Result<Fragment, Problem> {
    if let Some((row, column, ch)) = first_forbidden_char(lines) {
        return Err(Problem::Character { row, column, ch });
    }
    let original = join(lines);
    let first = python::parse(&original).ok_or_else(|| Problem::Syntax {
        row: 0,
        column: 1,
        message: "the parser gave up".into(),
    })?;

    // Line starts (byte offsets) and which lines start inside a string.
    let mut starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for l in lines {
        starts.push(offset);
        offset += l.len() + 1;
    }
    let mut in_string = vec![false; lines.len()];
    let mut covered = vec![false; original.len()];
    let toks = tokens(&first);
    for t in &toks {
        let is_string = t.kind() == "string";
        if (is_string || t.kind() == "comment")
            && let Some(range) = covered.get_mut(t.start_byte()..t.end_byte())
        {
            range.fill(true);
        }
        if is_string {
            let (s, e) = (t.start_position().row, t.end_position().row);
            for flag in in_string.iter_mut().take(e + 1).skip(s + 1) {
                *flag = true;
            }
        }
    }

    // Logical line starts: first token on a line, outside brackets, not after a backslash.
    let mut logical = vec![false; lines.len()];
    let mut depth: usize = 0;
    let mut continued = false;
    let mut last_row = usize::MAX;
    for t in &toks {
        match t.kind() {
            "comment" => continue,
            "line_continuation" => {
                continued = true;
                last_row = t.start_position().row;
                continue;
            }
            _ => {}
        }
        let row = t.start_position().row;
        if row != last_row && row < logical.len() && !in_string[row] {
            logical[row] = depth == 0 && !continued;
        }
        continued = false;
        match t.kind() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            _ => {}
        }
        last_row = t.end_position().row;
    }

    // Non-ASCII whitespace outside strings and comments.
    for (row, line) in lines.iter().enumerate() {
        if in_string[row] {
            continue;
        }
        for (i, c) in line.char_indices() {
            let at = starts[row] + i;
            if c.is_whitespace()
                && c != ' '
                && c != '\t'
                && !covered.get(at).copied().unwrap_or(false)
            {
                return Err(Problem::Character {
                    row,
                    column: char_column(line, i),
                    ch: c,
                });
            }
        }
    }

    // CPython's indentation algorithm on logical line starts, and the normalized lines.
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut indented_rows = Vec::new();
    let mut out = Vec::with_capacity(lines.len());
    for (row, line) in lines.iter().enumerate() {
        if in_string[row] {
            out.push(Line {
                text: (*line).to_string(),
                kind: LineKind::InString,
                orig_lead: 0,
                new_lead: 0,
            });
            continue;
        }
        let (bytes, col, alt) = leading(line);
        if bytes == line.len() {
            out.push(Line {
                text: String::new(),
                kind: LineKind::Blank,
                orig_lead: bytes,
                new_lead: 0,
            });
            continue;
        }
        if col > MAX_INDENT_COLUMNS {
            return Err(Problem::Indentation {
                row,
                message: format!("indentation is wider than {MAX_INDENT_COLUMNS} columns"),
            });
        }
        if logical[row] {
            let depth = stack.len();
            check_indent(&mut stack, col, alt).map_err(|message| Problem::Indentation {
                row,
                message: message.to_string(),
            })?;
            if stack.len() > depth {
                indented_rows.push(row);
            }
        }
        let mut text = " ".repeat(col);
        text.push_str(&line[bytes..]);
        out.push(Line {
            text,
            kind: LineKind::Code,
            orig_lead: bytes,
            new_lead: col,
        });
    }

    let changed = out
        .iter()
        .zip(lines)
        .any(|(l, orig)| l.text.as_str() != *orig);
    let (text, tree) = if changed {
        let text = join(&out.iter().map(|l| l.text.as_str()).collect::<Vec<_>>());
        let tree = python::parse(&text).ok_or_else(|| Problem::Syntax {
            row: 0,
            column: 1,
            message: "the parser gave up".into(),
        })?;
        (text, tree)
    } else {
        (original, first)
    };

    if python::max_depth(&tree) > MAX_TREE_DEPTH {
        return Err(Problem::Syntax {
            row: 0,
            column: 1,
            message: format!("the code is nested more than {MAX_TREE_DEPTH} levels deep"),
        });
    }
    if let Some((row, col, message)) = python::first_syntax_error(&tree, &text) {
        let column = out.get(row).map_or(col + 1, |l| char_column(&l.text, col));
        return Err(Problem::Syntax {
            row,
            column,
            message,
        });
    }
    check_strings(&tree, &text)?;
    check_blocks(&tree, &indented_rows)?;
    check_continuations(&tree)?;
    Ok(Fragment {
        text,
        lines: out,
        tree,
    })
}

/// One step of CPython's tokenizer indentation logic (`tok_get`, tab sizes 8 and 1).
fn check_indent(
    stack: &mut Vec<(usize, usize)>,
    col: usize,
    alt: usize,
) -> Result<(), &'static str> {
    const TAB_ERROR: &str = "inconsistent use of tabs and spaces in indentation";
    let &(top, top_alt) = stack.last().ok_or("indentation stack underflow")?;
    if col == top {
        if alt != top_alt {
            return Err(TAB_ERROR);
        }
    } else if col > top {
        if alt <= top_alt {
            return Err(TAB_ERROR);
        }
        if stack.len() > MAX_INDENT_LEVELS {
            return Err("too many levels of indentation");
        }
        stack.push((col, alt));
    } else {
        while stack.len() > 1 && stack.last().is_some_and(|&(c, _)| col < c) {
            stack.pop();
        }
        let &(top, top_alt) = stack.last().ok_or("indentation stack underflow")?;
        if col != top {
            return Err("unindent does not match any outer indentation level");
        }
        if alt != top_alt {
            return Err(TAB_ERROR);
        }
    }
    Ok(())
}

/// A string that is not triple-quoted may only span lines through a backslash before the line
/// break (tree-sitter accepts a bare line break there, CPython does not).
fn check_strings(tree: &Tree, text: &str) -> Result<(), Problem> {
    for node in python::preorder(tree) {
        if node.kind() != "string" || node.start_position().row == node.end_position().row {
            continue;
        }
        let mut cursor = node.walk();
        let opener = node
            .children(&mut cursor)
            .find(|c| c.kind() == "string_start")
            .map_or("", |c| python::text(c, text));
        if opener.ends_with("'''") || opener.ends_with("\"\"\"") {
            continue;
        }
        let body = python::text(node, text);
        let mut backslashes = 0usize;
        for (i, b) in body.bytes().enumerate() {
            match b {
                b'\\' => backslashes += 1,
                b'\n' if backslashes.is_multiple_of(2) => {
                    let row = node.start_position().row + body[..i].matches('\n').count();
                    return Err(Problem::Syntax {
                        row,
                        column: 1,
                        message: "a string that is not triple-quoted cannot span lines".into(),
                    });
                }
                _ => backslashes = 0,
            }
        }
    }
    Ok(())
}

/// Where tree-sitter is more lenient than CPython about blocks: an indented line must be the
/// first statement of a block (else CPython says "unexpected indent"), and a block may not be empty (CPython:
/// "expected an indented block"; tree-sitter accepts `class A:` at the end of the input).
fn check_blocks(tree: &Tree, indented_rows: &[usize]) -> Result<(), Problem> {
    let mut block_rows = std::collections::HashSet::new();
    for node in python::preorder(tree) {
        if node.kind() != "block" {
            continue;
        }
        let mut cursor = node.walk();
        let first = node
            .named_children(&mut cursor)
            .find(|c| c.kind() != "comment");
        match first {
            Some(first) => block_rows.insert(first.start_position().row),
            None => {
                return Err(Problem::Indentation {
                    row: node.start_position().row,
                    message: "expected an indented block".into(),
                });
            }
        };
    }
    match indented_rows.iter().find(|r| !block_rows.contains(r)) {
        Some(&row) => Err(Problem::Indentation {
            row,
            message: "unexpected indent".into(),
        }),
        None => Ok(()),
    }
}

/// A backslash continuation must be followed, on the very next line, by code.
fn check_continuations(tree: &Tree) -> Result<(), Problem> {
    let toks = tokens(tree);
    for (i, t) in toks.iter().enumerate() {
        if t.kind() != "line_continuation" {
            continue;
        }
        let row = t.start_position().row;
        let next_code = toks[i + 1..]
            .iter()
            .find(|n| n.kind() != "line_continuation");
        match next_code {
            None => return Err(Problem::TrailingBackslash { row }),
            Some(n) if n.kind() == "comment" || n.start_position().row != row + 1 => {
                // Nothing but comments or blank lines after it: at the end of a fragment this
                // continues into whatever follows; elsewhere CPython and tree-sitter disagree.
                let rest_is_code = toks[i + 1..]
                    .iter()
                    .any(|n| n.kind() != "comment" && n.kind() != "line_continuation");
                if !rest_is_code {
                    return Err(Problem::TrailingBackslash { row });
                }
                return Err(Problem::Syntax {
                    row,
                    column: t.start_position().column + 1,
                    message: "a backslash continuation must be followed by a line of code".into(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}
