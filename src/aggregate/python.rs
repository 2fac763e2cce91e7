//! Small tree-sitter helpers shared by the section, template and verification code.
//!
//! All walks are iterative: adversarial input can nest deeply, and a recursive walk could
//! overflow the stack.

use tree_sitter::{Node, Parser, Tree};

/// Parse Python source with tree-sitter. `None` only if the parser could not be set up or
/// gave up, which callers report as a syntax error.
pub(crate) fn parse(source: &str) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(source, None)
}

/// Every node of the tree in pre-order (parents before children, children in source order).
pub(crate) fn preorder(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    loop {
        out.push(cursor.node());
        if cursor.goto_first_child() {
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

/// The first syntax error in the tree: 0-based (row, column) and a short description.
pub(crate) fn first_syntax_error(tree: &Tree, source: &str) -> Option<(usize, usize, String)> {
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let Some(bad) = preorder(tree)
        .into_iter()
        .find(|n| n.is_error() || n.is_missing())
    else {
        // The error is a hidden node (e.g. a missing newline) that cursors do not visit: report
        // the deepest visible node that contains an error.
        let mut node = root;
        loop {
            let mut cursor = node.walk();
            let next = node.children(&mut cursor).find(|c| c.has_error());
            match next {
                Some(child) => node = child,
                None => break,
            }
        }
        let pos = node.start_position();
        return Some((pos.row, pos.column, "invalid syntax".to_string()));
    };
    let pos = bad.start_position();
    let message = if bad.is_missing() {
        format!("missing `{}`", bad.kind())
    } else {
        let text = bad.utf8_text(source.as_bytes()).unwrap_or("");
        let first = text.lines().next().unwrap_or("").trim();
        if first.is_empty() {
            "invalid syntax".to_string()
        } else {
            let shown: String = first.chars().take(40).collect();
            format!("invalid syntax near `{shown}`")
        }
    };
    Some((pos.row, pos.column, message))
}

/// The depth of the deepest node (the root is at depth 0).
pub(crate) fn max_depth(tree: &Tree) -> usize {
    let mut cursor = tree.walk();
    let (mut depth, mut deepest) = (0usize, 0usize);
    loop {
        if cursor.goto_first_child() {
            depth += 1;
            deepest = deepest.max(depth);
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return deepest;
            }
            depth -= 1;
        }
    }
}

/// The text of a node (empty if the range is not valid UTF-8, which cannot happen for `&str`
/// sources).
pub(crate) fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    node.utf8_text(source.as_bytes()).unwrap_or("")
}
