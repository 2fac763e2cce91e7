//! Constructs a section may not use because they reach out of the section into the template.
//!
//! The sections run inside one template function (the loop section inside the template's
//! `for`). Decisions, each enforced on the section's own syntax tree:
//!
//! - `return` is refused unless it is in the body of a `def` the section itself defines: at
//!   section level it would end the template function early.
//! - `yield` and `await` (and `async for`/`async with`/async comprehensions) are refused unless
//!   they are in the body of a `def` (for `yield`, also a `lambda`) the section defines. At
//!   section level `yield` silently turns the template's function into a generator that never
//!   runs. This includes comprehensions and generator expressions at section level: `yield` in
//!   one is either a `SyntaxError` or, in the outermost iterable (which is evaluated in the
//!   enclosing scope), the same generator trick. Default values, decorators and annotations of
//!   a nested `def`/`lambda` are evaluated in the enclosing scope, so they count as section
//!   level too.
//! - `break` and `continue` are allowed inside a loop the section itself opens (in that loop's
//!   body, not its `else`, and not across a `def`, `lambda` or `class`), where they are ordinary
//!   Python. At the top level of the **loop section** they are allowed too and act on the
//!   template's per-file loop, as the contract says: `continue` skips the rest of the current
//!   file, `break` stops reading files (the after-section still runs). At the top level of the
//!   before- and after-sections they are refused (there is no loop of theirs to act on).
//!   [`verify`](super::verify) proves on the rendered script that each such jump lands on the
//!   template loop around the loop placeholder and nowhere else.
//! - `global` and `nonlocal` are refused everywhere in a section: their only use here would be
//!   to reach names of the template or of the module around it. (Share state between nested
//!   functions with a mutable object instead.)
//! - Importing the `builtins` module (through which a section could rebind a builtin the
//!   template's own code uses) is refused, like the name `__builtins__`.
//! - `__builtins__` and identifiers starting with `_runcell` (the prefix templates use for
//!   their own names) are refused anywhere, after NFKC normalization as CPython does for
//!   identifiers, so `_ｒuncell` cannot sneak past.
//! - `from __future__ import`, `import *` (both illegal inside a function) and the Python 2
//!   `print`/`exec` statements that tree-sitter accepts but CPython does not are refused, so
//!   the error comes now rather than when the job runs.

use tree_sitter::{Node, Tree};
use unicode_normalization::UnicodeNormalization;

use super::error::Section;
use super::python;

/// Prefix reserved for template-owned names.
pub const RESERVED_PREFIX: &str = "_runcell";

/// A rule violation: 0-based row, 0-based byte column, the construct, the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub row: usize,
    pub byte_col: usize,
    pub construct: String,
    pub message: String,
}

/// The scope a node is in, as far as the rules care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// At section level (including a comprehension, default value, decorator or annotation
    /// evaluated there).
    Section,
    /// In the body of a `def` defined in the section.
    DefBody,
    /// In the body of a `lambda`.
    LambdaBody,
    /// In the body of a `class` (its own scope).
    ClassBody,
}

/// What is known about a node's position: its scope, and whether it is in the body of a loop
/// opened in that scope (for `break`/`continue`).
#[derive(Clone, Copy)]
struct Context {
    scope: Scope,
    in_loop: bool,
}

/// The context of a child of `parent` in field `field`.
fn child_context(parent: Node<'_>, field: Option<&str>, ctx: Context) -> Context {
    let body = field == Some("body");
    match parent.kind() {
        "function_definition" if body => Context {
            scope: Scope::DefBody,
            in_loop: false,
        },
        "lambda" if body => Context {
            scope: Scope::LambdaBody,
            in_loop: false,
        },
        "class_definition" if body => Context {
            scope: Scope::ClassBody,
            in_loop: false,
        },
        "for_statement" | "while_statement" if body => Context {
            scope: ctx.scope,
            in_loop: true,
        },
        _ => ctx,
    }
}

fn has_async_keyword(node: Node<'_>) -> bool {
    let mut cursor = node.walk();
    node.children(&mut cursor).any(|c| c.kind() == "async")
}

/// Check the section's tree; the first violation in source order wins. One pre-order pass
/// that carries each node's context down, so the cost stays linear however deep the tree.
pub(crate) fn check(tree: &Tree, source: &str, section: Section) -> Result<(), Violation> {
    // The loop section's top level is inside the template's per-file loop.
    let top = Context {
        scope: Scope::Section,
        in_loop: section == Section::Loop,
    };
    let mut stack = vec![(tree.root_node(), top)];
    let mut children = Vec::new();
    while let Some((node, ctx)) = stack.pop() {
        if let Some((construct, message)) = violation(node, ctx, source) {
            let pos = node.start_position();
            return Err(Violation {
                row: pos.row,
                byte_col: pos.column,
                construct,
                message,
            });
        }
        let mut cursor = node.walk();
        if cursor.goto_first_child() {
            loop {
                children.push((cursor.node(), child_context(node, cursor.field_name(), ctx)));
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        stack.extend(children.drain(..).rev());
    }
    Ok(())
}

/// True when `node` is (part of) the module name of an import statement.
fn in_import(node: Node<'_>) -> bool {
    let mut cur = node.parent();
    while let Some(n) = cur {
        match n.kind() {
            "dotted_name" | "aliased_import" | "relative_import" => cur = n.parent(),
            "import_statement" | "import_from_statement" => return true,
            _ => return false,
        }
    }
    false
}

fn violation(node: Node<'_>, ctx: Context, source: &str) -> Option<(String, String)> {
    let said = |c: &str, m: &str| Some((c.to_string(), m.to_string()));
    match node.kind() {
        "return_statement" if ctx.scope != Scope::DefBody => said(
            "return",
            "`return` is not allowed at section level (it would end the template's function); \
             it is allowed only inside a function the section defines",
        ),
        "yield" if node.is_named() => match ctx.scope {
            Scope::DefBody | Scope::LambdaBody => None,
            _ => said(
                "yield",
                "`yield` is not allowed at section level, including in comprehensions, default \
                 values and decorators (it would turn the template's function into a generator \
                 that never runs); it is allowed only inside a function the section defines",
            ),
        },
        "await" if node.is_named() && ctx.scope != Scope::DefBody => said(
            "await",
            "`await` is not allowed at section level; it is allowed only inside an `async def` \
             the section defines",
        ),
        "for_statement" | "with_statement" | "for_in_clause"
            if has_async_keyword(node) && ctx.scope != Scope::DefBody =>
        {
            said(
                "async",
                "`async for`, `async with` and async comprehensions are not allowed at section \
                 level; they are allowed only inside an `async def` the section defines",
            )
        }
        "break_statement" | "continue_statement" if !ctx.in_loop => {
            let word = if node.kind() == "break_statement" {
                "break"
            } else {
                "continue"
            };
            Some((
                word.to_string(),
                format!(
                    "`{word}` is allowed only inside a loop the section itself opens, or at the \
                     top level of the loop section (where it acts on the per-file loop)"
                ),
            ))
        }
        "global_statement" => said(
            "global",
            "`global` is not allowed in a section (it would reach the template's names)",
        ),
        "nonlocal_statement" => said(
            "nonlocal",
            "`nonlocal` is not allowed in a section (it would reach the template's names)",
        ),
        "future_import_statement" => said(
            "from __future__ import",
            "`from __future__ import` is not allowed in a section (the section runs inside the \
             template, not at the start of a module)",
        ),
        "wildcard_import" => said(
            "import *",
            "`import *` is not allowed in a section (the section runs inside a function)",
        ),
        "print_statement" | "exec_statement" => said(
            "python2",
            "Python 2 `print`/`exec` statement: use the function call form",
        ),
        "identifier" => {
            let raw = python::text(node, source);
            let name: String = raw.nfkc().collect();
            if name == "__builtins__" {
                Some((
                    name,
                    "`__builtins__` is not allowed in a section".to_string(),
                ))
            } else if (name == "builtins" || name == "__builtin__") && in_import(node) {
                Some((
                    format!("import {name}"),
                    "importing the builtins module is not allowed in a section (rebinding a \
                     builtin would change the template's own code)"
                        .to_string(),
                ))
            } else if name.starts_with(RESERVED_PREFIX) {
                Some((
                    name.clone(),
                    format!(
                        "`{raw}`: names starting with `{RESERVED_PREFIX}` are reserved for the \
                         template"
                    ),
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}
