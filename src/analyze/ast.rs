//! A compact copy of tree-sitter's syntax tree, made in one pass right after the parse.
//!
//! Every later pass (bindings, resolver, checks) asks many questions of every node: its
//! kind, its children, the child in a field, its byte range. Through tree-sitter's API each
//! question is a call into C that re-derives the answer from the parse stack's subtrees
//! (walking hidden nodes, scanning the production's field map), and `child_by_field_id`
//! alone was about 8% of an analysis. Here the visible nodes are copied once, in document
//! order, into one array of small fixed records (kind, field, flags, byte range, parent,
//! first child, next sibling), the tree is freed, and [`Node`] answers the same questions
//! with a few array reads. [`Node`] and [`TreeCursor`] keep the subset of tree-sitter's
//! method names the analyzer uses, with the same meaning.

use std::num::NonZeroU16;
use tree_sitter::Point;

/// No node (a missing parent, child or sibling).
const NONE: u32 = u32::MAX;

const NAMED: u8 = 1;
const MISSING: u8 = 2;

/// One visible node.
#[derive(Clone, Copy)]
struct Rec {
    start: u32,
    end: u32,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    /// tree-sitter's (alias-aware) kind id; `u16::MAX` is an `ERROR` node.
    kind: u16,
    /// The field id under which its parent holds it (0: none).
    field: u16,
    flags: u8,
}

/// The copied tree of one source text, with its line starts (for positions).
pub struct Ast {
    recs: Vec<Rec>,
    /// Byte offset of the start of every line (tree-sitter counts rows at `\n` only).
    lines: Vec<u32>,
}

impl Ast {
    /// Copies `tree` (parsed from `src`). `None` when the text is too large for 32-bit
    /// offsets (4 GiB).
    pub fn build(tree: &tree_sitter::Tree, src: &str) -> Option<Ast> {
        u32::try_from(src.len()).ok()?;
        let off = |b: usize| u32::try_from(b).unwrap_or(u32::MAX);
        // About one visible node per 2 bytes of ordinary Python (untouched capacity costs no
        // memory; growing the array would copy it).
        let mut recs: Vec<Rec> = Vec::with_capacity(src.len() * 3 / 4 + 64);
        let mut lines = Vec::with_capacity(src.len() / 32 + 1);
        lines.push(0u32);
        lines.extend(
            src.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| off(i + 1)),
        );
        let mut cursor = tree.walk();
        // `open[d]`: the node at depth `d` on the path to the current node, and
        // `last[d]`: the last child recorded so far below it.
        let mut open: Vec<u32> = Vec::new();
        let mut last: Vec<u32> = Vec::new();
        loop {
            let n = cursor.node();
            let idx = u32::try_from(recs.len()).ok()?;
            let parent = open.last().copied().unwrap_or(NONE);
            let mut flags = 0;
            if n.is_named() {
                flags |= NAMED;
            }
            if n.is_missing() {
                flags |= MISSING;
            }
            let field = if open.is_empty() {
                0
            } else {
                cursor.field_id().map_or(0, NonZeroU16::get)
            };
            recs.push(Rec {
                start: off(n.start_byte()),
                end: off(n.end_byte()),
                parent,
                first_child: NONE,
                next_sibling: NONE,
                kind: n.kind_id(),
                field,
                flags,
            });
            if let Some(prev) = last.last_mut() {
                if *prev == NONE {
                    if let Some(p) = recs.get_mut(parent as usize) {
                        p.first_child = idx;
                    }
                } else if let Some(s) = recs.get_mut(*prev as usize) {
                    s.next_sibling = idx;
                }
                *prev = idx;
            }
            if cursor.goto_first_child() {
                open.push(idx);
                last.push(NONE);
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return Some(Ast { recs, lines });
                }
                open.pop();
                last.pop();
            }
        }
    }

    /// The root node.
    pub fn root(&self) -> Node<'_> {
        Node { ast: self, i: 0 }
    }

    fn rec(&self, i: u32) -> &Rec {
        // Indices come from this array's own links; index 0 always exists (the root).
        &self.recs[i as usize]
    }

    fn node(&self, i: u32) -> Option<Node<'_>> {
        (i != NONE).then_some(Node { ast: self, i })
    }

    fn point(&self, byte: u32) -> Point {
        let row = self.lines.partition_point(|&s| s <= byte).saturating_sub(1);
        let start = self.lines.get(row).copied().unwrap_or(0);
        Point {
            row,
            column: (byte - start) as usize,
        }
    }
}

/// A node of an [`Ast`] (a copy is two words).
#[derive(Clone, Copy)]
pub struct Node<'t> {
    ast: &'t Ast,
    i: u32,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.i == other.i && std::ptr::eq(self.ast, other.ast)
    }
}

impl Eq for Node<'_> {}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{{Node {} [{}..{}]}}",
            self.kind(),
            self.start_byte(),
            self.end_byte()
        )
    }
}

impl<'t> Node<'t> {
    fn r(&self) -> &'t Rec {
        self.ast.rec(self.i)
    }

    /// How many nodes its whole tree has.
    pub fn tree_len(&self) -> usize {
        self.ast.recs.len()
    }

    /// A number unique to this node in its tree (its index in document order).
    pub fn id(&self) -> usize {
        self.i as usize
    }

    /// tree-sitter's kind id (`u16::MAX` for `ERROR`).
    pub fn kind_id(&self) -> u16 {
        self.r().kind
    }

    /// The node's grammar kind (`"call"`, `"identifier"`, `"ERROR"`...).
    pub fn kind(&self) -> &'static str {
        super::scope::kind_name(self.r().kind)
    }

    /// Named in the grammar (not punctuation or a keyword).
    pub fn is_named(&self) -> bool {
        self.r().flags & NAMED != 0
    }

    /// Invented by the parser to recover from a syntax error.
    pub fn is_missing(&self) -> bool {
        self.r().flags & MISSING != 0
    }

    /// A syntax error's `ERROR` node.
    pub fn is_error(&self) -> bool {
        self.r().kind == u16::MAX
    }

    /// Byte offset of its start.
    pub fn start_byte(&self) -> usize {
        self.r().start as usize
    }

    /// Byte offset just after it.
    pub fn end_byte(&self) -> usize {
        self.r().end as usize
    }

    /// Row and byte column of its start.
    pub fn start_position(&self) -> Point {
        self.ast.point(self.r().start)
    }

    /// Row and byte column just after it.
    pub fn end_position(&self) -> Point {
        self.ast.point(self.r().end)
    }

    fn first_child(&self) -> Option<Node<'t>> {
        self.ast.node(self.r().first_child)
    }

    fn next_sibling(&self) -> Option<Node<'t>> {
        self.ast.node(self.r().next_sibling)
    }

    /// Its children, named or not.
    pub fn kids(&self) -> Children<'t> {
        Children {
            next: self.first_child(),
        }
    }

    /// Child `i`, counting every child.
    pub fn child(&self, i: u32) -> Option<Node<'t>> {
        self.kids().nth(i as usize)
    }

    /// How many children it has.
    pub fn child_count(&self) -> u32 {
        u32::try_from(self.kids().count()).unwrap_or(u32::MAX)
    }

    /// Named child `i` (comments count).
    pub fn named_child(&self, i: u32) -> Option<Node<'t>> {
        self.kids().filter(Node::is_named).nth(i as usize)
    }

    /// Its named children (comments included), as tree-sitter's method of that name.
    pub fn named_children(
        &self,
        _cursor: &mut TreeCursor<'t>,
    ) -> impl Iterator<Item = Node<'t>> + use<'t> {
        self.kids().filter(Node::is_named)
    }

    /// Its children, as tree-sitter's method of that name.
    pub fn children(&self, _cursor: &mut TreeCursor<'t>) -> Children<'t> {
        self.kids()
    }

    /// The first child held in field `id`. An `ERROR` node has no fields (its children
    /// keep the fields a hidden node between them gave them, which tree-sitter's cursor
    /// reports but its `child_by_field_id` on the `ERROR` node does not).
    pub fn child_by_field_id(&self, id: u16) -> Option<Node<'t>> {
        if self.is_error() {
            return None;
        }
        self.kids().find(|c| c.r().field == id)
    }

    /// The first child held in field `name`.
    pub fn child_by_field_name(&self, name: &str) -> Option<Node<'t>> {
        self.child_by_field_id(any_field_id(name)?)
    }

    /// Every child held in field `name`.
    pub fn children_by_field_name(
        &self,
        name: &str,
        _cursor: &mut TreeCursor<'t>,
    ) -> impl Iterator<Item = Node<'t>> + use<'t> {
        let id = if self.is_error() {
            0
        } else {
            any_field_id(name).unwrap_or(0)
        };
        self.kids().filter(move |c| id != 0 && c.r().field == id)
    }

    /// A cursor starting at this node.
    pub fn walk(&self) -> TreeCursor<'t> {
        TreeCursor {
            ast: self.ast,
            root: self.i,
            cur: self.i,
        }
    }
}

/// The id of any field of the grammar (the analyzer's own ones from a table).
fn any_field_id(name: &str) -> Option<u16> {
    super::scope::field_id(name).or_else(|| {
        tree_sitter::Language::new(tree_sitter_python::LANGUAGE)
            .field_id_for_name(name)
            .map(NonZeroU16::get)
    })
}

/// The children of a node, in order.
pub struct Children<'t> {
    next: Option<Node<'t>>,
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;
    fn next(&mut self) -> Option<Node<'t>> {
        let n = self.next?;
        self.next = n.next_sibling();
        Some(n)
    }
}

/// A cursor over the subtree of the node it started at, as tree-sitter's.
pub struct TreeCursor<'t> {
    ast: &'t Ast,
    root: u32,
    cur: u32,
}

impl<'t> TreeCursor<'t> {
    /// The node it is on.
    pub fn node(&self) -> Node<'t> {
        Node {
            ast: self.ast,
            i: self.cur,
        }
    }

    /// Starts again at `node`.
    pub fn reset(&mut self, node: Node<'t>) {
        self.ast = node.ast;
        self.root = node.i;
        self.cur = node.i;
    }

    /// Moves to the first child, if any.
    pub fn goto_first_child(&mut self) -> bool {
        match self.ast.rec(self.cur).first_child {
            NONE => false,
            c => {
                self.cur = c;
                true
            }
        }
    }

    /// Moves to the next sibling, if any (never past the starting node's subtree).
    pub fn goto_next_sibling(&mut self) -> bool {
        if self.cur == self.root {
            return false;
        }
        match self.ast.rec(self.cur).next_sibling {
            NONE => false,
            s => {
                self.cur = s;
                true
            }
        }
    }

    /// Moves to the parent (never above the starting node).
    pub fn goto_parent(&mut self) -> bool {
        if self.cur == self.root {
            return false;
        }
        match self.ast.rec(self.cur).parent {
            NONE => false,
            p => {
                self.cur = p;
                true
            }
        }
    }

    /// The field id under which the current node's parent holds it.
    pub fn field_id(&self) -> Option<NonZeroU16> {
        if self.cur == self.root {
            return None;
        }
        NonZeroU16::new(self.ast.rec(self.cur).field)
    }
}

#[cfg(test)]
mod tests {
    use super::Ast;
    use std::path::{Path, PathBuf};

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    /// Checks one copied node and its subtree against tree-sitter's own answers.
    fn same(ts: tree_sitter::Node<'_>, n: super::Node<'_>, fields: &[u16]) {
        assert_eq!(ts.kind_id(), n.kind_id(), "{ts:?}");
        assert_eq!(ts.kind(), n.kind(), "{ts:?}");
        assert_eq!(
            (ts.start_byte(), ts.end_byte()),
            (n.start_byte(), n.end_byte())
        );
        assert_eq!(ts.start_position(), n.start_position(), "{ts:?}");
        assert_eq!(ts.end_position(), n.end_position(), "{ts:?}");
        assert_eq!(ts.is_named(), n.is_named(), "{ts:?}");
        assert_eq!(ts.is_missing(), n.is_missing(), "{ts:?}");
        assert_eq!(ts.is_error(), n.is_error(), "{ts:?}");
        assert_eq!(ts.child_count(), n.child_count(), "{ts:?}");
        assert_eq!(
            ts.named_child_count(),
            n.kids().filter(|c| c.is_named()).count()
        );
        for &f in fields {
            let through_alias = ts
                .child_by_field_id(f)
                .is_some_and(|c| c.parent() != Some(ts));
            if through_alias {
                // tree-sitter answers with a grandchild for a field inherited through an
                // aliased hidden node: only `match_statement`'s `alternative` (a case
                // clause inside its block), which the analyzer never asks for.
                assert_eq!(ts.kind(), "match_statement", "field {f} of {ts:?}");
                continue;
            }
            let a = ts
                .child_by_field_id(f)
                .map(|c| (c.start_byte(), c.end_byte(), c.kind_id()));
            let b = n
                .child_by_field_id(f)
                .map(|c| (c.start_byte(), c.end_byte(), c.kind_id()));
            assert_eq!(a, b, "field {f} of {ts:?}");
        }
        let mut cursor = ts.walk();
        for (i, (a, b)) in ts.children(&mut cursor).zip(n.kids()).enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            assert_eq!(ts.child(i).map(|c| c.id()), Some(a.id()));
            same(a, b, fields);
        }
        for i in 0..ts.named_child_count() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let a = ts.named_child(i).map(|c| (c.start_byte(), c.kind_id()));
            let b = n.named_child(i).map(|c| (c.start_byte(), c.kind_id()));
            assert_eq!(a, b);
        }
    }

    /// The copy answers every question the analyzer asks exactly as tree-sitter does, on
    /// every corpus and fuzz-corpus file (syntax errors and invented nodes included).
    #[test]
    fn copy_matches_tree_sitter() {
        // Deeply nested fuzz inputs: the comparison recurses, so give it a large stack.
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(compare_corpus)
            .expect("thread")
            .join()
            .expect("comparison");
    }

    fn compare_corpus() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        files(&root.join("tests/corpus"), &mut paths);
        files(&root.join("fuzz/corpus/analyze"), &mut paths);
        assert!(paths.len() > 100, "corpus not found");
        let lang = tree_sitter::Language::new(tree_sitter_python::LANGUAGE);
        let fields: Vec<u16> = (1..=u16::try_from(lang.field_count()).unwrap_or(0)).collect();
        for p in paths {
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            let src = String::from_utf8_lossy(&bytes);
            let Some(tree) = super::super::parse(&src) else {
                panic!("{}: no parse", p.display());
            };
            let ast = Ast::build(&tree, &src).expect("small file");
            same(tree.root_node(), ast.root(), &fields);
        }
    }
}
