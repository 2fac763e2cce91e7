//! Structural verification of a rendered script, before anything runs.
//!
//! The rendered script is parsed with tree-sitter and must have no syntax error. Then two
//! things are proved:
//!
//! 1. **Sections stay in their slot.** Every node that starts on a line of section `S` is either
//!    a statement whose parent is the block holding the `pass` that replaced `S`'s placeholder
//!    and which ends on a line of `S`, or a descendant of such a statement (comments may sit
//!    anywhere). So no section statement dedents out of its block or is absorbed by a template
//!    statement, and no section statement runs on into template lines.
//! 2. **The template is exactly the template.** The tree without those section statements
//!    (and without comments) is identical to the template skeleton's tree: same node kinds,
//!    same tokens, same nesting, same order. So no template statement moved into a section's
//!    statement, disappeared, or changed.
//!
//! 3. **Jumps land where the contract says.** Every `break`/`continue` of a section acts on a
//!    loop the section itself opens, or — only for the loop section — on the template loop
//!    around the loop placeholder (`continue` skips the current file, `break` stops reading
//!    files). One in the before- or after-section that would reach a template loop, or one with
//!    no loop around it, is refused.
//!
//! Any difference is an [`Error::Structure`] naming the first line where it shows.

use std::collections::HashSet;

use tree_sitter::{Node, Tree};

use super::error::{Error, Section};
use super::python;
use super::render::{Origin, Rendered};
use super::template::Template;

/// Verify `rendered` against `template` (see the module docs).
pub(crate) fn verify(rendered: &Rendered, template: &Template) -> Result<(), Error> {
    let script = rendered.script();
    let tree = python::parse(script).ok_or_else(|| fail(rendered, 0, "the parser gave up"))?;
    if let Some((row, _, message)) = python::first_syntax_error(&tree, script) {
        return Err(fail(
            rendered,
            row,
            &format!("the rendered script does not parse: {message}"),
        ));
    }
    let sections = section_statements(rendered, &tree)?;
    check_jumps(rendered, &tree)?;
    let got = shape(&tree, script, &sections);
    let want = shape(template.tree(), template.skeleton(), &HashSet::new());
    for (i, w) in want.iter().enumerate() {
        match got.get(i) {
            Some(g) if g.same_as(w) => {}
            Some(g) => {
                return Err(fail(
                    rendered,
                    g.row,
                    &format!(
                        "the template's structure changed here (found `{}` where the template \
                         has `{}`)",
                        g.kind, w.kind
                    ),
                ));
            }
            None => {
                let row = got.last().map_or(0, |g| g.row);
                return Err(fail(
                    rendered,
                    row,
                    "template code is missing after this line",
                ));
            }
        }
    }
    if let Some(extra) = got.get(want.len()) {
        return Err(fail(
            rendered,
            extra.row,
            &format!("unexpected `{}` outside the sections", extra.kind),
        ));
    }
    Ok(())
}

/// Point 3 of the module docs: where each section `break`/`continue` lands.
fn check_jumps(rendered: &Rendered, tree: &Tree) -> Result<(), Error> {
    for node in python::preorder(tree) {
        let word = match node.kind() {
            "break_statement" => "break",
            "continue_statement" => "continue",
            _ => continue,
        };
        let row = node.start_position().row;
        let Some(section) = Section::ALL.into_iter().find(|&s| {
            let span = rendered.span(s);
            (span.first_row..span.end_row).contains(&row)
        }) else {
            continue;
        };
        let span = rendered.span(section);
        // The loop this jump acts on: the nearest `for`/`while` whose body holds it, within
        // the same function.
        let mut child = node;
        let mut target = None;
        while let Some(parent) = child.parent() {
            match parent.kind() {
                "function_definition" | "class_definition" | "lambda" => break,
                "for_statement" | "while_statement"
                    if parent
                        .child_by_field_name("body")
                        .is_some_and(|b| b.id() == child.id()) =>
                {
                    target = Some(parent);
                    break;
                }
                _ => {}
            }
            child = parent;
        }
        let own = |l: Node<'_>| (span.first_row..span.end_row).contains(&l.start_position().row);
        match target {
            Some(l) if own(l) => {}
            Some(_) if section == Section::Loop => {}
            Some(_) => {
                return Err(fail(
                    rendered,
                    row,
                    &format!(
                        "`{word}` in the `{section}` section would act on the template's loop"
                    ),
                ));
            }
            None => {
                return Err(fail(
                    rendered,
                    row,
                    &format!(
                        "`{word}` in the `{section}` section is not inside a loop (the template's \
                         loop placeholder must sit in its per-file loop)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The structural error for rendered row `row`, located in the sections file or template.
fn fail(rendered: &Rendered, row: usize, message: &str) -> Error {
    let (section, line) = match rendered.origin(row + 1) {
        Some(Origin::Section { section, line }) => (Some(section), line),
        Some(Origin::Template { line }) => (None, line),
        Some(Origin::Header) | None => (None, 0),
    };
    Error::Structure {
        section,
        line,
        message: message.to_string(),
    }
}

/// The last row a node really occupies (an end at column 0 belongs to the previous row).
fn last_row(node: Node<'_>) -> usize {
    let end = node.end_position();
    if end.column == 0 && end.row > node.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

/// Check placement (property 1) and return the ids of the sections' top-level statements.
fn section_statements(rendered: &Rendered, tree: &Tree) -> Result<HashSet<usize>, Error> {
    let nodes = python::preorder(tree);
    // The block that holds each section's `pass`.
    let mut homes: Vec<(Section, usize, usize, usize)> = Vec::new(); // (section, block id, first, end)
    for section in Section::ALL {
        let span = rendered.span(section);
        let pass = nodes.iter().find(|n| {
            n.kind() == "pass_statement"
                && n.start_position().row == span.marker_row
                && n.start_position().column == span.indent
        });
        let home = pass
            .and_then(|p| p.parent())
            .filter(|b| matches!(b.kind(), "block" | "module"))
            .ok_or_else(|| {
                fail(
                    rendered,
                    span.marker_row,
                    &format!("the `{section}` section's slot is not a statement any more"),
                )
            })?;
        homes.push((section, home.id(), span.first_row, span.end_row));
    }

    let mut ids = HashSet::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.is_extra() {
                continue;
            }
            let row = child.start_position().row;
            let Some(&(section, home, _, end)) = homes
                .iter()
                .find(|(_, _, first, end)| (*first..*end).contains(&row))
            else {
                stack.push(child);
                continue;
            };
            if node.id() != home {
                return Err(fail(
                    rendered,
                    row,
                    &format!("code of the `{section}` section escapes its block"),
                ));
            }
            if last_row(child) >= end {
                return Err(fail(
                    rendered,
                    row,
                    &format!("a statement of the `{section}` section runs on into the template"),
                ));
            }
            ids.insert(child.id());
        }
    }
    Ok(ids)
}

/// One element of a tree's shape: its kind and, for leaves, its text, in pre-order with depth.
#[derive(Debug)]
struct Part<'a> {
    depth: usize,
    kind: &'a str,
    leaf: Option<&'a str>,
    row: usize,
}

impl Part<'_> {
    fn same_as(&self, other: &Part<'_>) -> bool {
        self.depth == other.depth && self.kind == other.kind && self.leaf == other.leaf
    }
}

/// The pre-order shape of `tree`, leaving out extras (comments) and the nodes in `skip`.
fn shape<'a>(tree: &'a Tree, source: &'a str, skip: &HashSet<usize>) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    let mut stack: Vec<(Node<'a>, usize)> = vec![(tree.root_node(), 0)];
    while let Some((node, depth)) = stack.pop() {
        if node.is_extra() || skip.contains(&node.id()) {
            continue;
        }
        let leaf = (node.child_count() == 0).then(|| python::text(node, source));
        out.push(Part {
            depth,
            kind: node.kind(),
            leaf,
            row: node.start_position().row,
        });
        let mut cursor = node.walk();
        let children: Vec<Node<'a>> = node.children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, depth + 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::fragment::LineKind;
    use super::super::render::render_unverified;
    use super::super::sections::Sections;
    use super::super::template::Template;
    use super::*;

    fn sections(before: &str, looped: &str, after: &str) -> Sections {
        let text = format!(
            "###Code Before Loop###\n{before}###Loop Code###\n{looped}###Code After For Loop###\n{after}"
        );
        match Sections::parse(&text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// If a code line were wrongly taken for a string line (and so not re-indented), it would
    /// land outside its block; the verifier must notice.
    #[test]
    fn a_line_that_escapes_its_block_is_caught() {
        let mut s = sections("x = 1\ny = 2\n", "", "");
        s.fragment_mut(Section::Before).lines[1].kind = LineKind::InString;
        let template = Template::default();
        let rendered = render_unverified(&s, &template);
        let err = verify(&rendered, &template).unwrap_err();
        assert_eq!(err.section(), Some(Section::Before));
        assert_eq!(err.line(), Some(3));
        assert!(err.to_string().contains("structure check failed"), "{err}");
    }

    #[test]
    fn a_changed_template_is_caught() {
        let s = sections("x = 1\n", "", "");
        let template = Template::default();
        let mut rendered = render_unverified(&s, &template);
        rendered.replace_script(|script| script.replace("sorted(", "list("));
        let err = verify(&rendered, &template).unwrap_err();
        assert!(
            err.to_string().contains("the template's structure changed"),
            "{err}"
        );
        assert_eq!(err.section(), None);
    }

    #[test]
    fn the_default_template_verifies_with_real_sections() {
        let s = sections("t = 0\n", "if True:\n    t += 1\n", "print(t)\n");
        let template = Template::default();
        assert!(verify(&render_unverified(&s, &template), &template).is_ok());
    }
}
