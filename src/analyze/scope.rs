//! Scopes and bindings: where every name of the file gets its values from.
//!
//! One pass over the tree records, for each scope (module, function, lambda, class,
//! comprehension), the names it binds and the *sources* of their values: assigned
//! expressions (with a destructuring path), loop iterables, augmented assignments, imports,
//! definitions, parameters (with their defaults) and `return` expressions. The resolver then
//! evaluates these sources flow-insensitively, so a name bound anywhere in a scope carries
//! every value it is ever given there, whatever the order of the code.

use super::ast::{Node, TreeCursor};
use super::value::Value;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A multiply-rotate hasher (FxHash) for node ids and names; SipHash is needlessly
/// slow for them and the keys are not attacker-chosen collisions of any consequence.
#[derive(Default)]
pub struct FastHash(u64);

impl Hasher for FastHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Eight bytes a step (names and dotted paths are hashed on every lookup).
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

/// A `HashMap` with [`FastHash`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHash>>;

/// Index of a scope in [`Scopes::scopes`].
pub type ScopeId = usize;
/// Index of a function in [`Scopes::funcs`].
pub type FuncId = usize;
/// Index of a variable in [`Scopes::vars`].
pub type VarId = usize;

/// Name of the pseudo-variable that collects a function's `return` values.
pub const RETURN: &str = "<return>";

/// Deeper nesting than this is refused (CPython's own parser stops near 200 levels).
pub const MAX_DEPTH: usize = 400;

/// What kind of block a scope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    Module,
    Function,
    Class,
    Comprehension,
}

/// One scope.
#[derive(Debug)]
pub struct Scope {
    pub kind: ScopeKind,
    pub parent: Option<ScopeId>,
    pub names: FastMap<String, VarId>,
    pub globals: HashSet<String>,
    pub nonlocals: HashSet<String>,
    /// Modules imported with `from M import *` here.
    pub stars: Vec<String>,
    /// For a method (a function directly in a class body): its first parameter (`self`)
    /// and the class scope, so `self.x = ...` binds `x` on the class.
    pub receiver: Option<(String, ScopeId)>,
}

/// Where one value of a variable comes from.
#[derive(Debug, Clone)]
pub enum Source<'t> {
    /// The value of `node` (evaluated in `scope`), then indexed along `path` when the target
    /// was destructured (`a, (b, c) = ...`).
    Expr {
        node: Node<'t>,
        scope: ScopeId,
        path: Vec<usize>,
        iter: bool,
    },
    /// `name OP= node`.
    Aug {
        op: &'t str,
        node: Node<'t>,
        scope: ScopeId,
    },
    /// `for var in iter: name OP= node`: the accumulation folded over the iterable's
    /// elements, starting from the name's plain values (`s = ''; for c in codes: s += chr(c)`).
    LoopAug {
        op: &'t str,
        node: Node<'t>,
        scope: ScopeId,
        var: String,
        iter: Node<'t>,
    },
    /// A value known without evaluation (imports, definitions).
    Const(Value),
}

/// One variable: a name in one scope.
#[derive(Debug)]
pub struct Var<'t> {
    pub scope: ScopeId,
    pub sources: Vec<Source<'t>>,
    /// Byte offset of the first binding site (module-level names used before it may still
    /// be builtins).
    pub first_pos: usize,
}

/// A function or lambda.
#[derive(Debug)]
pub struct Func<'t> {
    /// The scope of its body.
    pub scope: ScopeId,
    /// Plain positional parameter names, in order.
    pub params: Vec<String>,
    /// For a lambda, its body expression.
    pub body: Option<Node<'t>>,
    /// The name it was defined under (`def NAME`), `<lambda>` for a lambda.
    pub name: String,
}

/// Everything the binding pass learned.
#[derive(Debug)]
pub struct Scopes<'t> {
    pub scopes: Vec<Scope>,
    pub vars: Vec<Var<'t>>,
    pub funcs: Vec<Func<'t>>,
    /// Nodes that open a scope region (function/lambda/class body, comprehension) -> scope.
    pub regions: FastMap<usize, ScopeId>,
    /// True when the tree was nested deeper than [`MAX_DEPTH`] (part of it was skipped).
    pub too_deep: Option<Node<'t>>,
    /// `lambda` node id -> its function.
    pub lambdas: FastMap<usize, FuncId>,
    /// Every module imported with `from M import *` anywhere in the file.
    pub stars: Vec<String>,
    /// Every call whose callee is a plain name, with its scope (for argument flow into
    /// the file's own functions).
    pub calls: Vec<(Node<'t>, ScopeId)>,
    /// The nodes the checking pass acts on (see [`Visit`]), recorded by this pass's walk so
    /// that the tree is traversed once. Complete only when `too_deep` is `None` and
    /// `visits_partial` is false.
    pub visits: Vec<Visit<'t>>,
    /// A part of the tree the binding pass does not read was nested too deep to record.
    pub visits_partial: bool,
    /// Every name bound anywhere in the file, numbered (filled once the pass is done), so
    /// that a name use hashes its text once, not once per enclosing scope.
    syms: FastMap<String, u32>,
    /// (scope, name number) -> variable, for every binding of every scope.
    slots: FastMap<(ScopeId, usize), VarId>,
    /// Each function's `return` pseudo-variable.
    returns: Vec<Option<VarId>>,
}

/// The key of `slots`: a pair, so that [`FastHash`] mixes both (the same name bound in
/// many function scopes must not share the low hash bits that pick a bucket).
fn slot(scope: ScopeId, sym: u32) -> (ScopeId, usize) {
    (scope, sym as usize)
}

/// One node for the checking pass, with what it needs to know about the node's place.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'t> {
    /// The node: a kind `check` acts on (see `check::acts_on`), or a node the parser
    /// invented (named or not).
    pub node: Node<'t>,
    /// Its parent.
    pub parent: Option<Node<'t>>,
    /// The scope it is evaluated in.
    pub scope: ScopeId,
    /// The parent's field holding it, when it is one of [`FIELDS`].
    pub field: Option<&'static str>,
    /// Inside a type annotation (an ancestor is a `type` node).
    pub in_type: bool,
}

/// Where a node sits, as its parent's walk knows it.
#[derive(Clone, Copy)]
struct At<'t> {
    parent: Option<Node<'t>>,
    field: Option<&'static str>,
    in_type: bool,
}

/// The grammar fields the analyzer reads. Looking a field up by name scans the grammar's
/// field table with `strncmp` on every call; these are resolved to ids once.
const FIELDS: [&str; 22] = [
    "alias",
    "alternative",
    "argument",
    "arguments",
    "attribute",
    "body",
    "condition",
    "expression",
    "format_specifier",
    "function",
    "left",
    "module_name",
    "name",
    "object",
    "operator",
    "parameters",
    "right",
    "subscript",
    "type_conversion",
    "value",
    "definition",
    "key",
];

fn field_ids() -> &'static [u16; FIELDS.len()] {
    static IDS: OnceLock<[u16; FIELDS.len()]> = OnceLock::new();
    IDS.get_or_init(|| {
        let lang = tree_sitter::Language::new(tree_sitter_python::LANGUAGE);
        let mut ids = [0u16; FIELDS.len()];
        for (slot, name) in ids.iter_mut().zip(FIELDS) {
            *slot = lang.field_id_for_name(name).map_or(0, |id| id.get());
        }
        ids
    })
}

/// The name of a field id, when it is one of [`FIELDS`] (the only ones the checks read).
/// A table indexed by id (built once): the checker asks this for every node it visits.
pub fn field_name(id: u16) -> Option<&'static str> {
    static NAMES: OnceLock<Vec<Option<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let ids = field_ids();
        let max = ids.iter().copied().max().unwrap_or(0);
        let mut names = vec![None; usize::from(max) + 1];
        for (&id, name) in ids.iter().zip(FIELDS) {
            if id != 0 {
                names[usize::from(id)] = Some(name);
            }
        }
        names
    });
    names.get(usize::from(id)).copied().flatten()
}

/// Child access by a field name from [`FIELDS`], through the cached field ids.
pub trait Field<'t> {
    /// The child in field `name` (`None` if absent or the field is unknown).
    fn field(&self, name: &'static str) -> Option<Node<'t>>;
}

impl<'t> Field<'t> for Node<'t> {
    fn field(&self, name: &'static str) -> Option<Node<'t>> {
        match field_id(name)? {
            0 => None,
            id => self.child_by_field_id(id),
        }
    }
}

/// The id of a field from [`FIELDS`] (`None` for any other name).
pub fn field_id(name: &str) -> Option<u16> {
    let i = FIELDS.iter().position(|f| *f == name)?;
    Some(field_ids()[i])
}

/// An identifier as Python reads it (NFKC), without allocating for plain ASCII.
pub fn ident(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.is_ascii() {
        std::borrow::Cow::Borrowed(raw)
    } else {
        std::borrow::Cow::Owned(normalize_ident(raw))
    }
}

/// Normalises an identifier as Python does (NFKC), so `ｅｖａｌ` is `eval`.
pub fn normalize_ident(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        use unicode_normalization::UnicodeNormalization;
        s.nfkc().collect()
    }
}

/// The text of a node (empty when the span is not valid UTF-8 boundaries).
pub fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

fn kind_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let lang = tree_sitter::Language::new(tree_sitter_python::LANGUAGE);
        let mut names = Vec::with_capacity(lang.node_kind_count());
        for i in 0..lang.node_kind_count() {
            let name = u16::try_from(i).ok().and_then(|i| lang.node_kind_for_id(i));
            names.push(name.unwrap_or("").to_string());
        }
        names
    })
}

/// Node kinds from a table built once: `Node::kind` goes through FFI and UTF-8 validation
/// on every call, and the analyzer asks for kinds of nearly every node several times.
pub trait Kind {
    /// The node's grammar kind (`"call"`, `"identifier"`, `"ERROR"`...).
    fn k(&self) -> &'static str;
}

impl Kind for Node<'_> {
    fn k(&self) -> &'static str {
        kind_name(self.kind_id())
    }
}

/// The name of a kind id (`"ERROR"` for `u16::MAX`), from a table built once.
pub fn kind_name(id: u16) -> &'static str {
    if id == u16::MAX {
        return "ERROR";
    }
    kind_names().get(usize::from(id)).map_or("", String::as_str)
}

/// [`kind_class`]: the checking pass acts on the kind (`check::acts_on`).
const ACTS: u8 = 1;
/// [`kind_class`]: the binding pass treats the kind itself (a scope, a binding, `type`).
const SPECIAL: u8 = 2;

/// The kinds `Builder::walk` treats itself; keep in step with it and with `bind_node`.
const SPECIAL_KINDS: &[&str] = &[
    "type",
    "function_definition",
    "lambda",
    "class_definition",
    "list_comprehension",
    "set_comprehension",
    "dictionary_comprehension",
    "generator_expression",
    "assignment",
    "call",
    "augmented_assignment",
    "named_expression",
    "for_statement",
    "for_in_clause",
    "with_item",
    "except_clause",
    "import_statement",
    "import_from_statement",
    "global_statement",
    "nonlocal_statement",
    "return_statement",
];

/// [`ACTS`] and [`SPECIAL`] of a kind id, from a table built once (the binding pass asks
/// for every node).
fn kind_class(id: u16) -> u8 {
    static CLASSES: OnceLock<Vec<u8>> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        kind_names()
            .iter()
            .map(|name| {
                let mut c = 0;
                if super::check::acts_on(name) {
                    c |= ACTS;
                }
                if SPECIAL_KINDS.contains(&name.as_str()) {
                    c |= SPECIAL;
                }
                c
            })
            .collect()
    });
    if id == u16::MAX {
        // `ERROR`: recorded for its own sake (`is_error`), bound like any other node.
        return 0;
    }
    classes.get(usize::from(id)).copied().unwrap_or(0)
}

/// The named children of a node, skipping comments.
pub fn named_children<'t>(node: Node<'t>) -> impl Iterator<Item = Node<'t>> + use<'t> {
    node.kids().filter(|c| c.is_named() && c.k() != "comment")
}

impl<'t> Scopes<'t> {
    /// Runs the binding pass over a parsed module.
    pub fn build(root: Node<'t>, src: &'t str) -> Scopes<'t> {
        let mut s = Scopes {
            scopes: vec![Scope {
                kind: ScopeKind::Module,
                parent: None,
                names: FastMap::default(),
                globals: HashSet::new(),
                nonlocals: HashSet::new(),
                stars: Vec::new(),
                receiver: None,
            }],
            vars: Vec::new(),
            funcs: Vec::new(),
            regions: FastMap::default(),
            too_deep: None,
            lambdas: FastMap::default(),
            stars: Vec::new(),
            calls: Vec::new(),
            // The checking pass acts on about a third of the nodes.
            visits: Vec::with_capacity(root.tree_len() / 3),
            visits_partial: false,
            syms: FastMap::default(),
            slots: FastMap::default(),
            returns: Vec::new(),
        };
        let mut b = Builder {
            s: &mut s,
            src,
            cursors: Vec::new(),
            lists: Vec::new(),
        };
        let at = At {
            parent: None,
            field: None,
            in_type: false,
        };
        b.walk(root, 0, 0, at);
        let mut stars: Vec<String> = s
            .scopes
            .iter()
            .flat_map(|sc| sc.stars.iter().cloned())
            .collect();
        stars.dedup();
        s.stars = stars;
        s.index();
        s
    }

    /// Numbers the bound names and indexes every binding by (scope, number).
    fn index(&mut self) {
        let n: usize = self.scopes.iter().map(|sc| sc.names.len()).sum();
        self.slots.reserve(n);
        for (id, sc) in self.scopes.iter().enumerate() {
            for (name, &var) in &sc.names {
                let next = u32::try_from(self.syms.len()).unwrap_or(u32::MAX);
                let sym = *self.syms.entry(name.clone()).or_insert(next);
                self.slots.insert(slot(id, sym), var);
            }
        }
        self.returns = self
            .funcs
            .iter()
            .map(|f| self.scopes.get(f.scope)?.names.get(RETURN).copied())
            .collect();
    }

    /// Finds the variable `name` refers to from `scope` (Python's LEGB without builtins):
    /// `None` means a free name (a builtin or a star import, or undefined).
    pub fn lookup(&self, scope: ScopeId, name: &str) -> Option<VarId> {
        // A name bound nowhere is free whatever the scope (most builtins' uses).
        let sym = *self.syms.get(name)?;
        let mut cur = scope;
        let mut first = true;
        loop {
            let sc = self.scopes.get(cur)?;
            if sc.globals.contains(name) {
                return self.slots.get(&slot(0, sym)).copied();
            }
            let visible = first || sc.kind != ScopeKind::Class;
            match self.slots.get(&slot(cur, sym)) {
                Some(v) if visible && !sc.nonlocals.contains(name) => return Some(*v),
                _ => {}
            }
            first = false;
            cur = sc.parent?;
        }
    }

    /// The variable `name` bound directly in `scope`, if any.
    pub fn local(&self, scope: ScopeId, name: &str) -> Option<VarId> {
        let sym = *self.syms.get(name)?;
        self.slots.get(&slot(scope, sym)).copied()
    }

    /// The `return` pseudo-variable of a function.
    pub fn return_var(&self, f: FuncId) -> Option<VarId> {
        self.returns.get(f).copied().flatten()
    }
}

struct Builder<'a, 't> {
    s: &'a mut Scopes<'t>,
    src: &'t str,
    cursors: Vec<TreeCursor<'t>>,
    /// Recycled child lists (see `children`).
    lists: Vec<Vec<(Node<'t>, Option<&'static str>)>>,
}

impl<'t> Builder<'_, 't> {
    fn new_scope(&mut self, kind: ScopeKind, parent: ScopeId) -> ScopeId {
        self.s.scopes.push(Scope {
            kind,
            parent: Some(parent),
            names: FastMap::default(),
            globals: HashSet::new(),
            nonlocals: HashSet::new(),
            stars: Vec::new(),
            receiver: None,
        });
        self.s.scopes.len() - 1
    }

    /// The scope that actually receives a binding of `name` made in `scope`.
    fn target_scope(&self, scope: ScopeId, name: &str) -> ScopeId {
        let Some(sc) = self.s.scopes.get(scope) else {
            return 0;
        };
        if sc.globals.contains(name) {
            return 0;
        }
        if sc.nonlocals.contains(name) {
            let mut cur = sc.parent;
            while let Some(p) = cur {
                let psc = &self.s.scopes[p];
                if psc.kind == ScopeKind::Function && psc.names.contains_key(name) {
                    return p;
                }
                cur = psc.parent;
            }
        }
        scope
    }

    fn bind(&mut self, scope: ScopeId, name: &str, source: Source<'t>, pos: usize) {
        let scope = self.target_scope(scope, name);
        let name = normalize_ident(name);
        let id = match self.s.scopes[scope].names.get(&name) {
            Some(id) => *id,
            None => {
                self.s.vars.push(Var {
                    scope,
                    sources: Vec::new(),
                    first_pos: pos,
                });
                let id = self.s.vars.len() - 1;
                self.s.scopes[scope].names.insert(name, id);
                id
            }
        };
        let var = &mut self.s.vars[id];
        var.first_pos = var.first_pos.min(pos);
        if var.sources.len() < 64 {
            var.sources.push(source);
        }
    }

    /// Binds every name in an assignment target to `value` (destructured along a path).
    fn bind_target(
        &mut self,
        target: Node<'t>,
        value: Node<'t>,
        scope: ScopeId,
        path: Vec<usize>,
        iter: bool,
    ) {
        match target.k() {
            "identifier" => {
                let name = text(target, self.src);
                let src = Source::Expr {
                    node: value,
                    scope,
                    path,
                    iter,
                };
                self.bind(scope, name, src, target.start_byte());
            }
            "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list"
            | "expression_list" => {
                if path.len() > 8 {
                    return;
                }
                for (i, child) in named_children(target).enumerate() {
                    if matches!(child.k(), "list_splat_pattern" | "list_splat") {
                        for n in named_children(child) {
                            if n.k() == "identifier" {
                                self.bind(
                                    scope,
                                    text(n, self.src),
                                    Source::Const(Value::Unknown),
                                    n.start_byte(),
                                );
                            }
                        }
                        continue;
                    }
                    let mut p = path.clone();
                    p.push(i);
                    self.bind_target(child, value, scope, p, iter);
                }
            }
            "attribute" => {
                // `self.x = value` in a method binds `x` on the class.
                let (Some(obj), Some(attr)) = (target.field("object"), target.field("attribute"))
                else {
                    return;
                };
                let receiver = self.s.scopes.get(scope).and_then(|s| s.receiver.clone());
                if let Some((me, class)) = receiver
                    && obj.k() == "identifier"
                    && normalize_ident(text(obj, self.src)) == me
                {
                    let src = Source::Expr {
                        node: value,
                        scope,
                        path,
                        iter,
                    };
                    self.bind(class, text(attr, self.src), src, attr.start_byte());
                }
            }
            "parenthesized_expression" => {
                if let Some(inner) = target.named_child(0) {
                    self.bind_target(inner, value, scope, path, iter);
                }
            }
            _ => {}
        }
    }

    fn bind_unknown_names(&mut self, node: Node<'t>, scope: ScopeId) {
        self.bind_unknown_names_at(node, scope, 0);
    }

    fn bind_unknown_names_at(&mut self, node: Node<'t>, scope: ScopeId, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        if node.k() == "identifier" {
            self.bind(
                scope,
                text(node, self.src),
                Source::Const(Value::Unknown),
                node.start_byte(),
            );
            return;
        }
        for c in named_children(node) {
            self.bind_unknown_names_at(c, scope, depth + 1);
        }
    }

    /// A cursor for `node`'s children (recycled: creating one allocates).
    fn cursor(&mut self, node: Node<'t>) -> TreeCursor<'t> {
        match self.cursors.pop() {
            Some(mut c) => {
                c.reset(node);
                c
            }
            None => node.walk(),
        }
    }

    /// Records a node the parser invented for the checking pass.
    fn missing(&mut self, node: Node<'t>, scope: ScopeId) {
        self.s.visits.push(Visit {
            node,
            parent: None,
            scope,
            field: None,
            in_type: false,
        });
    }

    /// The named children of `node` other than comments, with their fields; records the
    /// unnamed children the parser invented. Return the list with `recycle`.
    fn children(
        &mut self,
        node: Node<'t>,
        scope: ScopeId,
    ) -> Vec<(Node<'t>, Option<&'static str>)> {
        let mut out = self.lists.pop().unwrap_or_default();
        out.clear();
        let mut cursor = self.cursor(node);
        if cursor.goto_first_child() {
            loop {
                let c = cursor.node();
                if c.is_named() {
                    if c.k() != "comment" {
                        out.push((c, cursor.field_id().and_then(|id| field_name(id.get()))));
                    }
                } else if c.is_missing() {
                    self.missing(c, scope);
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        self.cursors.push(cursor);
        out
    }

    fn recycle(&mut self, list: Vec<(Node<'t>, Option<&'static str>)>) {
        self.lists.push(list);
    }

    fn walk(&mut self, node: Node<'t>, scope: ScopeId, depth: usize, at: At<'t>) {
        if depth > MAX_DEPTH {
            if self.s.too_deep.is_none() {
                self.s.too_deep = Some(node);
            }
            return;
        }
        let class = kind_class(node.kind_id());
        if class & ACTS != 0 || node.is_missing() || node.is_error() {
            self.s.visits.push(Visit {
                node,
                parent: at.parent,
                scope,
                field: at.field,
                in_type: at.in_type,
            });
        }
        // What the children's walks are told about their place (field filled in per child).
        let mut below = At {
            parent: Some(node),
            field: None,
            in_type: at.in_type,
        };
        // Most nodes neither open a scope nor bind: no name comparisons for them.
        let kind = if class & SPECIAL != 0 { node.k() } else { "" };
        below.in_type |= kind == "type";
        match kind {
            "" => {}
            "function_definition" => return self.function(node, scope, depth, below),
            "lambda" => return self.lambda(node, scope, depth, below),
            "class_definition" => return self.class(node, scope, depth, below),
            "list_comprehension"
            | "set_comprehension"
            | "dictionary_comprehension"
            | "generator_expression" => {
                let inner = self.new_scope(ScopeKind::Comprehension, scope);
                self.s.regions.insert(node.id(), inner);
                let kids = self.children(node, inner);
                for &(c, field) in &kids {
                    self.walk(c, inner, depth + 1, At { field, ..below });
                }
                self.recycle(kids);
                return;
            }
            _ => self.bind_node(node, kind, scope),
        }
        let mut cursor = self.cursor(node);
        if cursor.goto_first_child() {
            loop {
                let c = cursor.node();
                if c.is_named() {
                    let field = cursor.field_id().and_then(|id| field_name(id.get()));
                    self.walk(c, scope, depth + 1, At { field, ..below });
                } else if c.is_missing() {
                    self.missing(c, scope);
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        self.cursors.push(cursor);
    }

    /// The bindings a node makes itself (its children are walked by `walk`). Kept out of
    /// `walk` so that the recursion's stack frames stay small.
    #[inline(never)]
    fn bind_node(&mut self, node: Node<'t>, kind: &str, scope: ScopeId) {
        match kind {
            "assignment" => self.assignment(node, scope),
            "call" => {
                let named = node
                    .field("function")
                    .is_some_and(|f| matches!(f.k(), "identifier" | "attribute"));
                if named && self.s.calls.len() < 4096 {
                    self.s.calls.push((node, scope));
                }
            }
            "augmented_assignment" => {
                if let (Some(l), Some(r), Some(op)) = (
                    node.field("left").filter(|l| l.k() == "identifier"),
                    node.field("right"),
                    node.field("operator"),
                ) {
                    let op = text(op, self.src).trim_end_matches('=');
                    self.bind(
                        scope,
                        text(l, self.src),
                        Source::Aug { op, node: r, scope },
                        l.start_byte(),
                    );
                }
            }
            "named_expression" => {
                if let (Some(n), Some(v)) = (node.field("name"), node.field("value")) {
                    self.bind_target(n, v, scope, Vec::new(), false);
                }
            }
            "for_statement" | "for_in_clause" => {
                if let (Some(l), Some(r)) = (node.field("left"), node.field("right")) {
                    self.bind_target(l, r, scope, Vec::new(), true);
                    if node.k() == "for_statement" && l.k() == "identifier" {
                        self.loop_accumulations(node, l, r, scope);
                    }
                }
            }
            "with_item" => {
                if let Some(v) = node.field("value").filter(|v| v.k() == "as_pattern") {
                    let expr = v.named_child(0);
                    let alias = v.field("alias").and_then(|a| a.named_child(0));
                    if let (Some(e), Some(a)) = (expr, alias) {
                        self.bind_target(a, e, scope, Vec::new(), false);
                    }
                }
            }
            "except_clause" => {
                if let Some(a) = node.field("alias") {
                    self.bind_unknown_names(a, scope);
                }
            }
            "import_statement" => self.import(node, scope),
            "import_from_statement" => self.import_from(node, scope),
            "global_statement" | "nonlocal_statement" => {
                let global = node.k() == "global_statement";
                for c in named_children(node) {
                    if c.k() == "identifier" {
                        let name = normalize_ident(text(c, self.src));
                        let sc = &mut self.s.scopes[scope];
                        if global {
                            sc.globals.insert(name);
                        } else {
                            sc.nonlocals.insert(name);
                        }
                    }
                }
            }
            "return_statement" => {
                let in_function = self.s.scopes[scope].kind == ScopeKind::Function;
                if let Some(v) = node.named_child(0).filter(|_| in_function) {
                    let src = Source::Expr {
                        node: v,
                        scope,
                        path: Vec::new(),
                        iter: false,
                    };
                    self.bind(scope, RETURN, src, node.start_byte());
                }
            }
            _ => {}
        }
    }

    /// Records `name OP= expr` statements directly in a `for` body as loop folds.
    fn loop_accumulations(
        &mut self,
        node: Node<'t>,
        var: Node<'t>,
        iter: Node<'t>,
        scope: ScopeId,
    ) {
        let Some(body) = node.field("body") else {
            return;
        };
        let var = normalize_ident(text(var, self.src));
        for stmt in named_children(body) {
            let Some(aug) = stmt
                .named_child(0)
                .filter(|a| a.k() == "augmented_assignment")
            else {
                continue;
            };
            let (Some(l), Some(r), Some(op)) =
                (aug.field("left"), aug.field("right"), aug.field("operator"))
            else {
                continue;
            };
            if l.k() == "identifier" {
                let op = text(op, self.src).trim_end_matches('=');
                let src = Source::LoopAug {
                    op,
                    node: r,
                    scope,
                    var: var.clone(),
                    iter,
                };
                self.bind(scope, text(l, self.src), src, l.start_byte());
            }
        }
    }

    fn assignment(&mut self, node: Node<'t>, scope: ScopeId) {
        // `a = b = value` nests: collect every target down to the innermost value.
        let mut targets = Vec::new();
        let mut cur = node;
        let value = loop {
            let Some(l) = cur.field("left") else {
                return;
            };
            targets.push(l);
            match cur.field("right") {
                Some(r) if r.k() == "assignment" => cur = r,
                Some(r) => break r,
                None => {
                    // Annotation only (`x: int`): the name exists but has no value yet.
                    return;
                }
            }
        };
        for t in targets {
            self.bind_target(t, value, scope, Vec::new(), false);
        }
    }

    fn params(&mut self, params: Option<Node<'t>>, inner: ScopeId, outer: ScopeId) -> Vec<String> {
        let mut names = Vec::new();
        let Some(params) = params else { return names };
        for p in named_children(params) {
            match p.k() {
                "identifier" => {
                    let name = text(p, self.src);
                    names.push(normalize_ident(name));
                    self.bind(inner, name, Source::Const(Value::Unknown), p.start_byte());
                }
                "default_parameter" | "typed_default_parameter" => {
                    let (n, v) = (p.field("name"), p.field("value"));
                    if let (Some(n), Some(v)) = (n.filter(|n| n.k() == "identifier"), v) {
                        names.push(normalize_ident(text(n, self.src)));
                        self.bind(
                            inner,
                            text(n, self.src),
                            Source::Const(Value::Unknown),
                            n.start_byte(),
                        );
                        let src = Source::Expr {
                            node: v,
                            scope: outer,
                            path: Vec::new(),
                            iter: false,
                        };
                        self.bind(inner, text(n, self.src), src, n.start_byte());
                    }
                }
                "typed_parameter" => {
                    if let Some(n) = p.named_child(0) {
                        if n.k() == "identifier" {
                            names.push(normalize_ident(text(n, self.src)));
                        }
                        self.bind_unknown_names(n, inner);
                    }
                }
                _ => self.bind_unknown_names(p, inner),
            }
        }
        names
    }

    fn function(&mut self, node: Node<'t>, scope: ScopeId, depth: usize, below: At<'t>) {
        let inner = self.new_scope(ScopeKind::Function, scope);
        let params = self.params(node.field("parameters"), inner, scope);
        if self.s.scopes[scope].kind == ScopeKind::Class
            && let Some(first) = params.first()
        {
            self.s.scopes[inner].receiver = Some((first.clone(), scope));
            let me = Source::Const(Value::Instance(scope));
            self.bind(inner, first, me, node.start_byte());
        }
        let name = node
            .field("name")
            .map(|n| normalize_ident(text(n, self.src)))
            .unwrap_or_default();
        self.s.funcs.push(Func {
            scope: inner,
            params,
            body: None,
            name,
        });
        let fid = self.s.funcs.len() - 1;
        if let Some(n) = node.field("name") {
            self.bind(
                scope,
                text(n, self.src),
                Source::Const(Value::Func(fid)),
                n.start_byte(),
            );
        }
        self.walk_with_body(node, scope, inner, depth, below);
    }

    fn lambda(&mut self, node: Node<'t>, scope: ScopeId, depth: usize, below: At<'t>) {
        let inner = self.new_scope(ScopeKind::Function, scope);
        let params = self.params(node.field("parameters"), inner, scope);
        let body = node.field("body");
        self.s.funcs.push(Func {
            scope: inner,
            params,
            body,
            name: "<lambda>".into(),
        });
        self.s.lambdas.insert(node.id(), self.s.funcs.len() - 1);
        if let Some(b) = body {
            let src = Source::Expr {
                node: b,
                scope: inner,
                path: Vec::new(),
                iter: false,
            };
            self.bind(inner, RETURN, src, b.start_byte());
            self.s.regions.insert(b.id(), inner);
            let field = Some("body");
            self.walk(b, inner, depth + 1, At { field, ..below });
        }
        if let Some(p) = node.field("parameters") {
            let field = Some("parameters");
            self.walk(p, scope, depth + 1, At { field, ..below });
        }
        // Anything else in a lambda (a syntax error's pieces; the keyword or colon the parser
        // invented) binds nothing, but the checking pass still looks at it.
        let kids = self.children(node, scope);
        for &(c, field) in &kids {
            if Some(c) != body && field != Some("parameters") {
                self.record(c, scope, depth + 1, At { field, ..below });
            }
        }
        self.recycle(kids);
    }

    /// Records a subtree for the checking pass without binding anything in it.
    fn record(&mut self, node: Node<'t>, scope: ScopeId, depth: usize, at: At<'t>) {
        if depth > MAX_DEPTH {
            self.s.visits_partial = true;
            return;
        }
        let kind = node.k();
        if node.is_missing() || node.is_error() || super::check::acts_on(kind) {
            self.s.visits.push(Visit {
                node,
                parent: at.parent,
                scope,
                field: at.field,
                in_type: at.in_type,
            });
        }
        let below = At {
            parent: Some(node),
            field: None,
            in_type: at.in_type || kind == "type",
        };
        let mut cursor = self.cursor(node);
        if cursor.goto_first_child() {
            loop {
                let c = cursor.node();
                if c.is_named() {
                    let field = cursor.field_id().and_then(|id| field_name(id.get()));
                    self.record(c, scope, depth + 1, At { field, ..below });
                } else if c.is_missing() {
                    self.missing(c, scope);
                }
                if !cursor.goto_next_sibling() {
                    break;
                }
            }
        }
        self.cursors.push(cursor);
    }

    /// Walk a def's or class's children: the body in its own scope `inner`, everything else
    /// (decorators, defaults, bases, annotations) in the enclosing `scope`.
    fn walk_with_body(
        &mut self,
        node: Node<'t>,
        scope: ScopeId,
        inner: ScopeId,
        depth: usize,
        below: At<'t>,
    ) {
        let body = node.field("body");
        let kids = self.children(node, scope);
        for &(c, field) in &kids {
            let at = At { field, ..below };
            if Some(c) == body {
                self.s.regions.insert(c.id(), inner);
                self.walk(c, inner, depth + 1, at);
            } else {
                self.walk(c, scope, depth + 1, at);
            }
        }
        self.recycle(kids);
    }

    fn class(&mut self, node: Node<'t>, scope: ScopeId, depth: usize, below: At<'t>) {
        let inner = self.new_scope(ScopeKind::Class, scope);
        if let Some(n) = node.field("name") {
            self.bind(
                scope,
                text(n, self.src),
                Source::Const(Value::Class(inner)),
                n.start_byte(),
            );
        }
        self.walk_with_body(node, scope, inner, depth, below);
    }

    fn import(&mut self, node: Node<'t>, scope: ScopeId) {
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        for n in names {
            match n.k() {
                "dotted_name" => {
                    let full = dotted(n, self.src);
                    let top = full.split('.').next().unwrap_or("").to_string();
                    if !top.is_empty() {
                        self.bind(
                            scope,
                            &top,
                            Source::Const(Value::Path(top.clone())),
                            n.start_byte(),
                        );
                    }
                }
                "aliased_import" => {
                    let (m, a) = (n.field("name"), n.field("alias"));
                    if let (Some(m), Some(a)) = (m, a) {
                        let full = dotted(m, self.src);
                        self.bind(
                            scope,
                            text(a, self.src),
                            Source::Const(Value::Path(full)),
                            a.start_byte(),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    fn import_from(&mut self, node: Node<'t>, scope: ScopeId) {
        let module = node.field("module_name");
        let module_path = match module {
            Some(m) if m.k() == "dotted_name" => Some(dotted(m, self.src)),
            // `from .helper import run` / `from . import helper`: a module of the same
            // submission, named without its package (what a multi-file analysis resolves).
            Some(m) if m.k() == "relative_import" => {
                let name = named_children(m)
                    .find(|c| c.k() == "dotted_name")
                    .map(|d| dotted(d, self.src));
                Some(name.unwrap_or_default())
            }
            _ => None,
        };
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        for n in names {
            let (name_node, alias_node) = match n.k() {
                "aliased_import" => (n.field("name"), n.field("alias")),
                _ => (Some(n), None),
            };
            let Some(name_node) = name_node else { continue };
            let name = dotted(name_node, self.src);
            let bound =
                alias_node.map_or_else(|| name.clone(), |a| normalize_ident(text(a, self.src)));
            let value = match &module_path {
                Some(m) if m.is_empty() => Value::Path(name.clone()),
                Some(m) => Value::Path(format!("{m}.{name}")),
                None => Value::Unknown,
            };
            self.bind(scope, &bound, Source::Const(value), n.start_byte());
        }
        let mut cursor = node.walk();
        let has_star = node
            .named_children(&mut cursor)
            .any(|c| c.k() == "wildcard_import");
        if let (true, Some(m)) = (has_star, module_path.filter(|m| !m.is_empty())) {
            self.s.scopes[scope].stars.push(m);
        }
    }
}

/// The dotted text of a `dotted_name`, NFKC-normalised per component.
pub fn dotted(node: Node<'_>, src: &str) -> String {
    named_children(node)
        .filter(|c| c.k() == "identifier")
        .map(|c| normalize_ident(text(c, src)))
        .collect::<Vec<_>>()
        .join(".")
}
