//! The resolver: evaluates expressions to abstract values.
//!
//! It sees through renaming (`import os as o`, `f = os.system`, `from os import *`),
//! dynamic lookups (`getattr`, `__import__`, `importlib.import_module`, `sys.modules[...]`,
//! `vars(m)[...]`, `globals()[...]`, `__builtins__`, `m.__dict__[...]`), user functions and
//! lambdas (their return values), class attributes, and constant folding (see `fold`).
//!
//! Variables are solved flow-insensitively: every source of every variable is evaluated in
//! rounds until nothing changes (or [`MAX_ROUNDS`]), each variable keeping the union of its
//! values. A module-level name used before its first binding also keeps its builtin meaning.

use super::ast::Node;
use super::fold;
use super::rules::KnownNames;
use super::scope::FastMap;
use super::scope::{
    Field, FuncId, Kind, ScopeId, Scopes, Source, VarId, named_children, normalize_ident, text,
};
use super::value::{Namespace, ValSet, Value};
use std::cell::RefCell;
use std::sync::Arc;

/// Fixpoint rounds over all variables.
pub const MAX_ROUNDS: usize = 6;
/// Expression nesting the evaluator follows before giving up (`Unknown`).
const MAX_EVAL_DEPTH: usize = 48;
/// Elements a comprehension or `map` is folded over.
const MAX_FOLD_ITEMS: usize = 512;

/// Python's builtin names (the ones the rules or the folder care about, and the common ones
/// so that shadowing is recognised).
const BUILTINS: &[&str] = &[
    "__build_class__",
    "__import__",
    "__loader__",
    "__spec__",
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "execfile",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "raw_input",
    "reload",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "unicode",
    "vars",
    "zip",
    "file",
    "apply",
];

/// Tag of the value of `operator.attrgetter(name)` (a `Method` on the name).
pub const ATTRGETTER: &str = "<attrgetter>";
/// The paths `call_path` folds (sorted: binary search). A test checks every arm is here.
const FOLDED_CALLS: &[&str] = &[
    "base64.b16decode",
    "base64.b32decode",
    "base64.b64decode",
    "base64.decodebytes",
    "base64.decodestring",
    "base64.standard_b64decode",
    "base64.urlsafe_b64decode",
    "binascii.a2b_base64",
    "binascii.a2b_hex",
    "binascii.unhexlify",
    "builtins.__import__",
    "builtins.bytearray",
    "builtins.bytearray.fromhex",
    "builtins.bytes",
    "builtins.bytes.fromhex",
    "builtins.chr",
    "builtins.compile",
    "builtins.dict",
    "builtins.eval",
    "builtins.getattr",
    "builtins.globals",
    "builtins.int",
    "builtins.list",
    "builtins.locals",
    "builtins.map",
    "builtins.object.__getattribute__",
    "builtins.ord",
    "builtins.reversed",
    "builtins.str",
    "builtins.tuple",
    "builtins.type",
    "builtins.type.__getattribute__",
    "builtins.vars",
    "codecs.decode",
    "codecs.encode",
    "getpass.getuser",
    "importlib.__import__",
    "importlib.import_module",
    "operator.attrgetter",
    "operator.methodcaller",
    "os.environ.get",
    "os.fsdecode",
    "os.fsencode",
    "os.getenv",
    "os.getlogin",
    "os.path.abspath",
    "os.path.expanduser",
    "os.path.expandvars",
    "os.path.join",
    "os.path.normpath",
    "os.path.realpath",
    "pathlib.Path",
    "pathlib.Path.home",
    "pathlib.PosixPath",
    "pathlib.PosixPath.home",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "posixpath.join",
    "sys.modules.__getitem__",
    "sys.modules.get",
    "sys.modules.pop",
    "sys.modules.setdefault",
];

/// Most texts one f-string literal is folded to (see `Resolver::string_set`).
const MAX_STRING_VARIANTS: usize = super::value::MAX_ALTERNATIVES;

/// Tag of the value of `operator.methodcaller(name, ...)`.
pub const METHODCALLER: &str = "<methodcaller>";

/// Environment variables that hold the user's home directory.
fn is_home_var(key: &str) -> bool {
    matches!(key, "HOME" | "USERPROFILE" | "APPDATA" | "LOCALAPPDATA")
}

/// The value of `eval(text)` for the simplest constant texts: `__import__('m')` (the
/// module's top package), a builtin's name, or a dotted name starting with one.
fn eval_constant(text: &str) -> Option<Value> {
    let t = text.trim();
    let is_dotted = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c == '_' || c.is_alphanumeric()))
    };
    if let Some(arg) = t
        .strip_prefix("__import__(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let arg = arg.trim();
        let m = arg
            .strip_prefix('\'')
            .and_then(|a| a.strip_suffix('\''))
            .or_else(|| arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
        if !is_dotted(m) {
            return None;
        }
        return Some(Value::Path(m.split('.').next()?.to_string()));
    }
    if is_dotted(t) {
        let first = t.split('.').next()?;
        if is_builtin(first) {
            return Some(Value::Path(format!("builtins.{t}")));
        }
    }
    None
}

/// Environment variables that hold the user's login name.
fn is_user_var(key: &str) -> bool {
    matches!(key, "USER" | "USERNAME" | "LOGNAME")
}

/// Is `name` a Python builtin the analyzer knows?
pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// Evaluation context: the scope of the expression and temporary bindings (comprehension
/// or lambda variables bound to one element while folding).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub scope: ScopeId,
    pub depth: usize,
    pub overrides: &'a [(String, Value)],
}

impl<'a> Ctx<'a> {
    /// A fresh context in `scope`.
    pub fn new(scope: ScopeId) -> Ctx<'static> {
        Ctx {
            scope,
            depth: 0,
            overrides: &[],
        }
    }

    fn deeper(self) -> Ctx<'a> {
        Ctx {
            depth: self.depth + 1,
            ..self
        }
    }
}

/// Arguments of a call, evaluated.
pub struct Args<'t> {
    pub positional: Vec<(Node<'t>, ValSet)>,
    pub keywords: Vec<(String, Node<'t>, ValSet)>,
    /// `*args` or `**kwargs` present (positions are then uncertain).
    pub splat: bool,
}

impl<'t> Args<'t> {
    /// The argument at `position` or passed as `keyword`.
    pub fn get(&self, position: Option<usize>, keywords: &[&str]) -> Option<&ValSet> {
        for (k, _, v) in &self.keywords {
            if keywords.contains(&k.as_str()) {
                return Some(v);
            }
        }
        position
            .and_then(|p| self.positional.get(p))
            .map(|(_, v)| v)
    }

    /// The node of the argument at `position` or passed as `keyword`.
    pub fn node(&self, position: Option<usize>, keywords: &[&str]) -> Option<Node<'t>> {
        for (k, n, _) in &self.keywords {
            if keywords.contains(&k.as_str()) {
                return Some(*n);
            }
        }
        position
            .and_then(|p| self.positional.get(p))
            .map(|(n, _)| *n)
    }

    fn single(&self, i: usize) -> Option<&Value> {
        self.positional.get(i).and_then(|(_, v)| v.single())
    }
}

/// The resolver over one file.
pub struct Resolver<'t> {
    pub src: &'t str,
    pub scopes: Scopes<'t>,
    pub values: Vec<ValSet>,
    /// Once the variables are solved, expression values no longer change: cache them by
    /// (node id, scope) so the checker's overlapping walks stay linear.
    frozen: bool,
    memo: RefCell<FastMap<(usize, ScopeId), ValSet>>,
    /// While solving: the variables read by the source being evaluated.
    reads: RefCell<Option<Vec<VarId>>>,
    /// Module and class names from the rules (see `KnownNames`).
    known: Arc<KnownNames>,
    /// For a code string: the names of the file it runs in, where it runs.
    outer: Option<Outer>,
}

/// Names (and their values) visible where a code string runs, for its analysis.
pub type Outer = std::collections::HashMap<String, ValSet>;

impl<'t> Resolver<'t> {
    /// Solves every variable of the file. `outer`: for a code string, the names visible
    /// where it runs; given here because the string's own variables are solved with them
    /// (`exec('m = os_alias\nm.system(...)')`).
    pub fn new(
        src: &'t str,
        scopes: Scopes<'t>,
        known: Arc<KnownNames>,
        outer: Option<Outer>,
    ) -> Resolver<'t> {
        let n = scopes.vars.len();
        let mut r = Resolver {
            src,
            scopes,
            values: vec![ValSet::empty(); n],
            frozen: false,
            memo: RefCell::new(FastMap::default()),
            reads: RefCell::new(None),
            known,
            outer,
        };
        // Round 0 evaluates every source and records which variables it read; later rounds
        // re-evaluate only the sources that read a variable that changed since.
        let mut deps: Vec<Vec<Vec<VarId>>> = (0..n)
            .map(|v| vec![Vec::new(); r.scopes.vars[v].sources.len()])
            .collect();
        let mut dirty = vec![true; n];
        let mut call_deps: Vec<Vec<VarId>> = vec![Vec::new(); r.scopes.calls.len()];
        for round in 0..MAX_ROUNDS {
            let mut next = vec![false; n];
            let mut changed = false;
            for var in 0..n {
                for s in 0..deps[var].len() {
                    let stale = round == 0 || deps[var][s].iter().any(|&d| dirty[d] || next[d]);
                    if !stale {
                        continue;
                    }
                    // Evaluated in place (a source holds paths and names: cloning each one
                    // for every evaluation cost an allocation or more).
                    let src = &r.scopes.vars[var].sources[s];
                    let mut read = std::mem::take(&mut deps[var][s]);
                    read.clear();
                    *r.reads.borrow_mut() = Some(read);
                    let v = r.eval_source(var, src);
                    let mut read = r.reads.borrow_mut().take().unwrap_or_default();
                    if matches!(src, Source::Aug { .. }) {
                        read.push(var);
                    }
                    read.sort_unstable();
                    read.dedup();
                    deps[var][s] = read;
                    if r.values[var].extend(v) {
                        next[var] = true;
                        changed = true;
                    }
                }
            }
            // Arguments flow into the parameters of the file's own functions.
            for (ci, &(call, scope)) in r.scopes.calls.iter().enumerate() {
                let stale = round == 0 || call_deps[ci].iter().any(|&d| dirty[d] || next[d]);
                if !stale {
                    continue;
                }
                *r.reads.borrow_mut() = Some(Vec::new());
                let flows = r.argument_flows(call, scope);
                let mut read = r.reads.borrow_mut().take().unwrap_or_default();
                read.sort_unstable();
                read.dedup();
                call_deps[ci] = read;
                for (var, vals) in flows {
                    if r.values[var].extend(vals) {
                        next[var] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
            dirty = next;
        }
        r.frozen = true;
        r
    }

    /// For a call of one of the file's functions: each parameter variable with the values
    /// passed to it (positionally, skipping `self`/`cls`, or by keyword).
    fn argument_flows(&self, call: Node<'t>, scope: ScopeId) -> Vec<(VarId, ValSet)> {
        let Some(f) = call.field("function") else {
            return Vec::new();
        };
        let ctx = Ctx::new(scope);
        let funcs: Vec<FuncId> = self
            .eval(f, ctx)
            .iter()
            .filter_map(|v| match v {
                Value::Func(id) => Some(*id),
                _ => None,
            })
            .collect();
        if funcs.is_empty() {
            return Vec::new();
        }
        let args = self.args(call, ctx);
        let mut out = Vec::new();
        for id in funcs {
            let Some(func) = self.scopes.funcs.get(id) else {
                continue;
            };
            let skip = usize::from(
                func.params
                    .first()
                    .is_some_and(|p| p == "self" || p == "cls"),
            );
            let positional = args.positional.iter().map(|(_, v)| v);
            for (name, vals) in func.params.iter().skip(skip).zip(positional) {
                if let Some(var) = self.scopes.local(func.scope, name) {
                    out.push((var, vals.clone()));
                }
            }
            for (k, _, vals) in &args.keywords {
                if let Some(var) = func
                    .params
                    .contains(k)
                    .then(|| self.scopes.local(func.scope, k))
                    .flatten()
                {
                    out.push((var, vals.clone()));
                }
            }
        }
        out
    }

    /// Records that the value being computed depends on variable `var`.
    fn note(&self, var: VarId) {
        if let Some(reads) = self.reads.borrow_mut().as_mut() {
            reads.push(var);
        }
    }

    fn eval_source(&self, var: usize, src: &Source<'t>) -> ValSet {
        match src {
            Source::Const(v) => ValSet::one(v.clone()),
            Source::Expr {
                node,
                scope,
                path,
                iter,
            } => {
                let mut vals = self.eval(*node, Ctx::new(*scope));
                if *iter {
                    vals = vals.flat_map(|v| match v.elements() {
                        Some(items) => items.into_iter().take(MAX_FOLD_ITEMS).collect(),
                        None => ValSet::unknown(),
                    });
                }
                for &i in path {
                    vals = vals.flat_map(|v| match v {
                        Value::List(items) => {
                            ValSet::one(items.get(i).cloned().unwrap_or(Value::Unknown))
                        }
                        _ => ValSet::unknown(),
                    });
                }
                vals
            }
            Source::Aug { op, node, scope } => {
                let left = self.values[var].clone();
                let right = self.eval(*node, Ctx::new(*scope));
                binop(op, &left, &right)
            }
            Source::LoopAug {
                op,
                node,
                scope,
                var: loop_var,
                iter,
            } => {
                let mut base = ValSet::empty();
                for s in &self.scopes.vars[var].sources {
                    if matches!(s, Source::Expr { .. } | Source::Const(_)) {
                        base.extend(self.eval_source(var, s));
                    }
                }
                let items = self.eval(*iter, Ctx::new(*scope));
                let Some(items) = items.single().and_then(Value::elements) else {
                    return ValSet::unknown();
                };
                if items.len() > MAX_FOLD_ITEMS {
                    return ValSet::unknown();
                }
                let mut out = ValSet::empty();
                for b in base.iter() {
                    let mut acc = b.clone();
                    for it in &items {
                        let ov = [(loop_var.clone(), it.clone())];
                        let ctx = Ctx {
                            scope: *scope,
                            depth: 0,
                            overrides: &ov,
                        };
                        let rhs = self.eval(*node, ctx);
                        acc = match rhs.single().and_then(|r| fold::binary(op, &acc, r)) {
                            Some(v) => v,
                            None => Value::Unknown,
                        };
                        if matches!(acc, Value::Unknown) {
                            break;
                        }
                    }
                    out.push(acc);
                }
                out
            }
        }
    }

    /// The names visible in `scope` (its own, then its enclosing scopes'), with the values
    /// that mean the same in another file: modules and their members, constants. Functions
    /// and classes of this file are not carried over (their ids mean nothing elsewhere).
    pub fn visible_names(&self, scope: ScopeId) -> Outer {
        let mut out = Outer::new();
        let mut cur = Some(scope);
        while let Some(sc) = cur {
            let Some(s) = self.scopes.scopes.get(sc) else {
                break;
            };
            for (name, &var) in &s.names {
                if out.contains_key(name) {
                    continue;
                }
                let mut keep = ValSet::empty();
                for v in self.values[var].iter() {
                    match v {
                        Value::Func(_)
                        | Value::Class(_)
                        | Value::Instance(_)
                        | Value::Namespace(Namespace::Scope(_)) => {
                            keep.push(Value::Unknown);
                        }
                        other => {
                            keep.push(other.clone());
                        }
                    }
                }
                out.insert(name.clone(), keep);
            }
            cur = s.parent;
        }
        out
    }

    /// The values of a name used at byte `pos` in `ctx`.
    pub fn name(&self, name: &str, pos: usize, ctx: Ctx<'_>) -> ValSet {
        if let Some((_, v)) = ctx.overrides.iter().rev().find(|(n, _)| n == name) {
            return ValSet::one(v.clone());
        }
        match self.scopes.lookup(ctx.scope, name) {
            Some(var) => {
                self.note(var);
                let mut vals = self.values[var].clone();
                let v = &self.scopes.vars[var];
                if v.scope == 0 && pos < v.first_pos {
                    vals.extend(self.free_name(name));
                }
                vals
            }
            None => self.free_name(name),
        }
    }

    /// A name bound nowhere in the file: a star import or a builtin.
    /// Builtins win over star imports: modules' `__all__` rarely re-export builtin names.
    fn free_name(&self, name: &str) -> ValSet {
        if name == "__name__" {
            return ValSet::one(Value::Str("__main__".into()));
        }
        if name == "__builtins__" {
            return ValSet::one(Value::Path("builtins".into()));
        }
        if is_builtin(name) {
            return ValSet::one(Value::Path(format!("builtins.{name}")));
        }
        let mut out = ValSet::empty();
        for m in &self.scopes.stars {
            out.push(Value::Path(format!("{m}.{name}")));
        }
        // A code string sees the names of the code that runs it.
        if let Some(v) = self.outer.as_ref().and_then(|o| o.get(name)) {
            out.extend(v.clone());
        }
        // A dangerous module used without an import: `__import__`, `builtins` or an injected
        // global may provide it at run time, so it is that module.
        if self.known.modules.contains(name) {
            out.push(Value::Path(name.to_string()));
        }
        if out.is_empty() {
            out.push(Value::Unknown);
        }
        out
    }

    /// Evaluates an expression node.
    pub fn eval(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        if ctx.depth > MAX_EVAL_DEPTH {
            return ValSet::unknown();
        }
        // Names and literals cost less to evaluate again than to store (and later free) in
        // the memo; what the memo is for is compound expressions evaluated from several
        // enclosing walks.
        let cacheable = self.frozen
            && ctx.overrides.is_empty()
            && !matches!(
                node.k(),
                "identifier" | "integer" | "true" | "false" | "none"
            );
        if cacheable && let Some(v) = self.memo.borrow().get(&(node.id(), ctx.scope)) {
            return v.clone();
        }
        let v = self.eval_uncached(node, ctx);
        if cacheable {
            self.memo
                .borrow_mut()
                .insert((node.id(), ctx.scope), v.clone());
        }
        v
    }

    fn eval_uncached(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        let ctx = ctx.deeper();
        match node.k() {
            "identifier" => self.name(
                &super::scope::ident(text(node, self.src)),
                node.start_byte(),
                ctx,
            ),
            "attribute" => {
                let (Some(obj), Some(attr)) = (node.field("object"), node.field("attribute"))
                else {
                    return ValSet::unknown();
                };
                let name = super::scope::ident(text(attr, self.src));
                self.eval(obj, ctx).flat_map(|v| self.attr(v, &name))
            }
            "call" => self.call(node, ctx),
            "subscript" => self.subscript(node, ctx),
            "string" => self.string_set(node, ctx),
            "concatenated_string" => {
                // Adjacent literals: `"sy" "stem"` (or bytes `b"o" b"s"`).
                let mut acc: Option<Value> = None;
                for part in named_children(node) {
                    let v = self.string(part, ctx);
                    acc = match acc {
                        None => Some(v),
                        Some(a) => fold::add(&a, &v),
                    };
                }
                ValSet::one(acc.unwrap_or(Value::Unknown))
            }
            "integer" => ValSet::one(
                fold::parse_int(text(node, self.src)).map_or(Value::Unknown, Value::Int),
            ),
            "true" => ValSet::one(Value::Bool(true)),
            "false" => ValSet::one(Value::Bool(false)),
            "none" => ValSet::one(Value::None),
            "parenthesized_expression" | "await" => match node.named_child(0) {
                Some(inner) => self.eval(inner, ctx),
                None => ValSet::unknown(),
            },
            "binary_operator" => {
                let (Some(l), Some(r), Some(op)) = (
                    node.field("left"),
                    node.field("right"),
                    node.field("operator"),
                ) else {
                    return ValSet::unknown();
                };
                binop(text(op, self.src), &self.eval(l, ctx), &self.eval(r, ctx))
            }
            "unary_operator" => {
                let (Some(a), Some(op)) = (node.field("argument"), node.field("operator")) else {
                    return ValSet::unknown();
                };
                let op = text(op, self.src);
                self.eval(a, ctx)
                    .flat_map(|v| ValSet::one(fold::unary(op, v).unwrap_or(Value::Unknown)))
            }
            "list" | "tuple" | "expression_list" | "set" => {
                let items: Vec<Value> = named_children(node)
                    .map(|c| {
                        self.eval(c, ctx)
                            .single()
                            .cloned()
                            .unwrap_or(Value::Unknown)
                    })
                    .collect();
                ValSet::one(Value::List(items))
            }
            "dictionary" => {
                let mut pairs = Vec::new();
                for c in named_children(node) {
                    let (Some(k), Some(v)) = (c.field("key"), c.field("value")) else {
                        continue;
                    };
                    let key = self
                        .eval(k, ctx)
                        .single()
                        .cloned()
                        .unwrap_or(Value::Unknown);
                    let val = self
                        .eval(v, ctx)
                        .single()
                        .cloned()
                        .unwrap_or(Value::Unknown);
                    pairs.push((key, val));
                }
                ValSet::one(Value::Dict(pairs))
            }
            "conditional_expression" => {
                let mut out = ValSet::empty();
                let kids = named_children(node);
                for (i, c) in kids.into_iter().enumerate() {
                    if i != 1 {
                        out.extend(self.eval(c, ctx));
                    }
                }
                out
            }
            "boolean_operator" => {
                let mut out = ValSet::empty();
                for side in ["left", "right"] {
                    if let Some(c) = node.field(side) {
                        out.extend(self.eval(c, ctx));
                    }
                }
                out
            }
            "named_expression" => match node.field("value") {
                Some(v) => self.eval(v, ctx),
                None => ValSet::unknown(),
            },
            "lambda" => match self.scopes.lambdas.get(&node.id()) {
                Some(id) => ValSet::one(Value::Func(*id)),
                None => ValSet::unknown(),
            },
            "list_comprehension" | "generator_expression" | "set_comprehension" => {
                self.comprehension(node, ctx)
            }
            _ => ValSet::unknown(),
        }
    }

    /// A string literal: `Str`, `Bytes`, or a folded f-string.
    pub fn string(&self, node: Node<'t>, ctx: Ctx<'_>) -> Value {
        self.string_set(node, ctx)
            .single()
            .cloned()
            .unwrap_or(Value::Unknown)
    }

    /// Every text a string literal can have: an f-string whose interpolations have several
    /// possible values (`for name in ('a', 'b'): f"{name}()"`) has up to
    /// `MAX_STRING_VARIANTS` of them; beyond that, or with an unknown part, it is unknown.
    pub fn string_set(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        if node.k() != "string" {
            return match self.eval(node, ctx).single() {
                Some(v) => ValSet::one(v.clone()),
                None => ValSet::unknown(),
            };
        }
        let mut prefix = String::new();
        let mut outs: Vec<String> = vec![String::new()];
        for c in named_children(node) {
            match c.k() {
                "string_start" => prefix = fold::literal_prefix(text(c, self.src)),
                "string_content" => {
                    let raw = text(c, self.src);
                    let piece = if prefix.contains('r') {
                        raw.to_string()
                    } else {
                        fold::unescape(raw, prefix.contains('b'), prefix.contains('f'))
                    };
                    for o in &mut outs {
                        o.push_str(&piece);
                    }
                }
                "interpolation" => {
                    let has_extra = c.field("format_specifier").is_some()
                        || c.field("type_conversion")
                            .is_some_and(|t| text(t, self.src) != "!s");
                    if has_extra {
                        return ValSet::unknown();
                    }
                    let Some(v) = c.field("expression").map(|e| self.eval(e, ctx)) else {
                        return ValSet::unknown();
                    };
                    let texts: Option<Vec<String>> = v.iter().map(Value::to_text).collect();
                    let Some(texts) = texts.filter(|t| !t.is_empty()) else {
                        return ValSet::unknown();
                    };
                    if outs.len() * texts.len() > MAX_STRING_VARIANTS {
                        return ValSet::unknown();
                    }
                    outs = outs
                        .iter()
                        .flat_map(|o| texts.iter().map(move |t| format!("{o}{t}")))
                        .collect();
                }
                _ => {}
            }
            if outs.iter().any(|o| o.len() > super::value::MAX_CONST_LEN) {
                return ValSet::unknown();
            }
        }
        let mut set = ValSet::empty();
        for out in outs {
            set.push(if prefix.contains('b') {
                Value::Bytes(fold::latin1_bytes(&out))
            } else {
                Value::Str(out)
            });
        }
        set
    }

    /// Attribute access on one value.
    pub fn attr(&self, v: &Value, name: &str) -> ValSet {
        match v {
            Value::Path(p) => match name {
                "__dict__" => ValSet::one(Value::Namespace(Namespace::Path(p.clone()))),
                "__builtins__" => ValSet::one(Value::Path("builtins".into())),
                "__self__" if p.starts_with("builtins.") => {
                    ValSet::one(Value::Path("builtins".into()))
                }
                _ if p.len() + name.len() > 256 => ValSet::unknown(),
                // Modules keep their imports as attributes: `os.path.os`, `shutil.os`,
                // `os.sys`, `asyncio.subprocess` are those modules themselves.
                "os" | "sys" | "posix" | "subprocess" | "builtins" => {
                    ValSet::one(Value::Path(name.into()))
                }
                _ => match path_constant(p, name) {
                    Some(c) => ValSet::one(Value::Str(c.into())),
                    None => ValSet::one(Value::Path(format!("{p}.{name}"))),
                },
            },
            Value::Func(_) if name == "__globals__" => {
                ValSet::one(Value::Namespace(Namespace::Scope(0)))
            }
            Value::Func(_) if name == "__builtins__" => ValSet::one(Value::Path("builtins".into())),
            Value::Func(id) if name == "__name__" || name == "__qualname__" => {
                match self.scopes.funcs.get(*id) {
                    Some(f) if !f.name.is_empty() => ValSet::one(Value::Str(f.name.clone())),
                    _ => ValSet::unknown(),
                }
            }
            Value::Class(scope) | Value::Instance(scope) => match self.scopes.local(*scope, name) {
                Some(var) => {
                    self.note(var);
                    self.values[var].clone()
                }
                None => ValSet::unknown(),
            },
            Value::Str(_)
            | Value::Bytes(_)
            | Value::List(_)
            | Value::Namespace(_)
            | Value::Dict(_) => match name {
                "__class__" => ValSet::one(Value::Path(
                    match v {
                        Value::Str(_) => "builtins.str",
                        Value::Bytes(_) => "builtins.bytes",
                        Value::List(_) => "builtins.list",
                        _ => "builtins.dict",
                    }
                    .into(),
                )),
                _ => ValSet::one(Value::Method(Box::new(v.clone()), name.to_string())),
            },
            _ => ValSet::unknown(),
        }
    }

    /// Looks a key up in a name-space view.
    fn ns_lookup(&self, ns: &Namespace, key: &str) -> ValSet {
        match ns {
            Namespace::Path(p) => self.attr(&Value::Path(p.clone()), key),
            Namespace::Scope(s) => match self.scopes.local(*s, key) {
                Some(var) => {
                    self.note(var);
                    self.values[var].clone()
                }
                None if *s == 0 => self.free_name(key),
                None => ValSet::unknown(),
            },
        }
    }

    fn subscript(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        let Some(obj) = node.field("value") else {
            return ValSet::unknown();
        };
        let Some(sub) = node.field("subscript") else {
            return ValSet::unknown();
        };
        let objs = self.eval(obj, ctx);
        if sub.k() == "slice" {
            let bounds = self.slice_bounds(sub, ctx);
            return objs.flat_map(|v| match &bounds {
                Some((a, b, c)) => {
                    ValSet::one(fold::slice(v, *a, *b, *c).unwrap_or(Value::Unknown))
                }
                None => ValSet::unknown(),
            });
        }
        let keys = self.eval(sub, ctx);
        let mut out = ValSet::empty();
        for o in objs.iter() {
            for k in keys.iter() {
                out.extend(self.index(o, k));
            }
        }
        out
    }

    /// `obj[key]` for one object and one key.
    pub fn index(&self, o: &Value, k: &Value) -> ValSet {
        match (o, k) {
            (Value::Namespace(ns), Value::Str(key)) => self.ns_lookup(ns, key),
            (Value::Path(p), Value::Str(key)) if p == "sys.modules" => {
                ValSet::one(Value::Path(key.clone()))
            }
            (Value::Path(p), Value::Str(key)) if p == "builtins" => self.attr(o, key),
            (Value::Path(p), Value::Str(key)) if p == "os.environ" && is_home_var(key) => {
                ValSet::one(Value::Str("~".into()))
            }
            (Value::Dict(pairs), key) if !matches!(key, Value::Unknown) => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(ValSet::unknown, |(_, v)| ValSet::one(v.clone())),
            (_, Value::Int(i)) => ValSet::one(fold::index(o, *i).unwrap_or(Value::Unknown)),
            _ => ValSet::unknown(),
        }
    }

    fn slice_bounds(
        &self,
        node: Node<'t>,
        ctx: Ctx<'_>,
    ) -> Option<(Option<i64>, Option<i64>, Option<i64>)> {
        // slice children: [expr] ':' [expr] [':' [expr]] — position decided by the colons.
        let mut parts: [Option<i64>; 3] = [None, None, None];
        let mut slot = 0usize;
        let mut cursor = node.walk();
        for c in node.children(&mut cursor) {
            if c.k() == ":" {
                slot += 1;
                continue;
            }
            if !c.is_named() || c.k() == "comment" {
                continue;
            }
            let v = self.eval(c, ctx);
            match v.single() {
                Some(Value::Int(i)) => *parts.get_mut(slot)? = Some(*i),
                Some(Value::None) => {}
                _ => return None,
            }
        }
        Some((parts[0], parts[1], parts[2]))
    }

    /// Evaluates the arguments of a call.
    pub fn args(&self, call: Node<'t>, ctx: Ctx<'_>) -> Args<'t> {
        let mut a = Args {
            positional: Vec::new(),
            keywords: Vec::new(),
            splat: false,
        };
        let Some(list) = call.field("arguments") else {
            return a;
        };
        if list.k() == "generator_expression" {
            a.positional.push((list, self.eval(list, ctx)));
            return a;
        }
        for c in named_children(list) {
            match c.k() {
                "keyword_argument" => {
                    if let (Some(n), Some(v)) = (c.field("name"), c.field("value")) {
                        a.keywords
                            .push((normalize_ident(text(n, self.src)), v, self.eval(v, ctx)));
                    }
                }
                "list_splat" | "dictionary_splat" => a.splat = true,
                _ => a.positional.push((c, self.eval(c, ctx))),
            }
        }
        a
    }

    fn call(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        let Some(f) = node.field("function") else {
            return ValSet::unknown();
        };
        let callee = self.eval(f, ctx);
        // Only calls that can fold to something need their arguments (most calls of
        // modules and builtins fold to nothing: skip evaluating their arguments).
        let folds = callee.iter().any(|v| match v {
            Value::Unknown => false,
            Value::Path(p) => {
                FOLDED_CALLS.binary_search(&p.as_str()).is_ok()
                    || p.ends_with(".__getattribute__")
                    || p.ends_with(".__getattr__")
                    || self.known.classes.contains(p.as_str())
            }
            _ => true,
        });
        if !folds {
            return ValSet::unknown();
        }
        let args = self.args(node, ctx);
        callee.flat_map(|c| self.apply(c, &args, ctx))
    }

    /// The result of calling `callee` with `args`.
    pub fn apply(&self, callee: &Value, args: &Args<'t>, ctx: Ctx<'_>) -> ValSet {
        match callee {
            Value::Path(p) => self.call_path(p, args, ctx),
            Value::Method(recv, m) => self.call_method(recv, m, args),
            Value::Func(id) => {
                let vals: Vec<Value> = args
                    .positional
                    .iter()
                    .map(|(_, v)| v.single().cloned().unwrap_or(Value::Unknown))
                    .collect();
                self.call_func(*id, &vals, ctx)
            }
            Value::Class(s) => ValSet::one(Value::Instance(*s)),
            _ => ValSet::unknown(),
        }
    }

    fn call_func(&self, id: FuncId, args: &[Value], ctx: Ctx<'_>) -> ValSet {
        let Some(f) = self.scopes.funcs.get(id) else {
            return ValSet::unknown();
        };
        if let Some(body) = f.body {
            // A lambda applied to constants: fold its body with the parameters bound.
            if !args.is_empty()
                && args.iter().all(|a| !matches!(a, Value::Unknown))
                && args.len() <= f.params.len()
            {
                let mut ov: Vec<(String, Value)> = ctx.overrides.to_vec();
                for (p, a) in f.params.iter().zip(args) {
                    ov.push((p.clone(), a.clone()));
                }
                let inner = Ctx {
                    scope: f.scope,
                    depth: ctx.depth + 1,
                    overrides: &ov,
                };
                return self.eval(body, inner);
            }
        }
        match self.scopes.return_var(id) {
            Some(v) => {
                self.note(v);
                self.values[v].clone()
            }
            None => ValSet::one(Value::None),
        }
    }

    fn call_path(&self, p: &str, args: &Args<'t>, ctx: Ctx<'_>) -> ValSet {
        let arg = |i: usize| {
            args.positional
                .get(i)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(ValSet::unknown)
        };
        let strings = |i: usize| -> Vec<String> { arg(i).strings().map(str::to_string).collect() };
        let map1 = |i: usize, f: &dyn Fn(&Value) -> Option<Value>| -> ValSet {
            arg(i).flat_map(|v| ValSet::one(f(v).unwrap_or(Value::Unknown)))
        };
        match p {
            "builtins.getattr" => {
                let mut out = ValSet::empty();
                for o in arg(0).iter() {
                    for n in strings(1) {
                        out.extend(self.attr(o, &n));
                    }
                }
                if out.is_empty() {
                    ValSet::unknown()
                } else {
                    out
                }
            }
            "builtins.__import__" | "importlib.__import__" => {
                let fromlist = args
                    .get(Some(3), &["fromlist"])
                    .and_then(|v| v.single())
                    .and_then(Value::truthy)
                    .unwrap_or(false);
                module_names(args)
                    .into_iter()
                    .filter(|m| !m.is_empty() && !m.starts_with('.'))
                    .map(|m| {
                        if fromlist {
                            Value::Path(m)
                        } else {
                            Value::Path(m.split('.').next().unwrap_or("").to_string())
                        }
                    })
                    .collect::<ValSet>()
                    .or_unknown()
            }
            "importlib.import_module"
            | "sys.modules.get"
            | "sys.modules.__getitem__"
            | "sys.modules.pop"
            | "sys.modules.setdefault" => module_names(args)
                .into_iter()
                .filter(|m| !m.is_empty() && !m.starts_with('.'))
                .map(Value::Path)
                .collect::<ValSet>()
                .or_unknown(),
            "builtins.globals" => ValSet::one(Value::Namespace(Namespace::Scope(0))),
            // The home directory, however it is asked for, folds to `~`.
            "os.getenv" | "os.environ.get" => {
                if strings(0).iter().any(|k| is_home_var(k)) {
                    ValSet::one(Value::Str("~".into()))
                } else if strings(0).iter().any(|k| is_user_var(k)) {
                    ValSet::one(Value::Str("<user>".into()))
                } else {
                    ValSet::unknown()
                }
            }
            "pathlib.Path.home" | "pathlib.PosixPath.home" => ValSet::one(Value::Str("~".into())),
            // The user's name stands for some user: `f"/home/{os.getlogin()}"` is under /home.
            "os.getlogin" | "getpass.getuser" => ValSet::one(Value::Str("<user>".into())),
            "os.path.expandvars" => map1(0, &|v| {
                let s = v.as_str()?;
                let home = fold::normalize_path(s);
                Some(Value::Str(if home.starts_with('~') {
                    home
                } else {
                    s.to_string()
                }))
            }),
            // Callables that look an attribute up later, by name.
            "operator.attrgetter" | "operator.methodcaller" => {
                let tag = if p.ends_with("attrgetter") {
                    ATTRGETTER
                } else {
                    METHODCALLER
                };
                strings(0)
                    .into_iter()
                    .map(|n| Value::Method(Box::new(Value::Str(n)), tag.to_string()))
                    .collect::<ValSet>()
                    .or_unknown()
            }
            "builtins.locals" => ValSet::one(Value::Namespace(Namespace::Scope(ctx.scope))),
            "builtins.vars" => {
                if args.positional.is_empty() {
                    return ValSet::one(Value::Namespace(Namespace::Scope(ctx.scope)));
                }
                arg(0).flat_map(|v| match v {
                    Value::Path(p) => ValSet::one(Value::Namespace(Namespace::Path(p.clone()))),
                    Value::Class(s) => ValSet::one(Value::Namespace(Namespace::Scope(*s))),
                    _ => ValSet::unknown(),
                })
            }
            "builtins.dict" if args.positional.len() == 1 => arg(0).flat_map(|v| match v {
                Value::Namespace(_) => ValSet::one(v.clone()),
                _ => ValSet::unknown(),
            }),
            // `eval("__import__('os')")` is that module; `eval("print")` that builtin.
            "builtins.eval" => map1(0, &|v| eval_constant(v.as_str()?)),
            // `compile("code", ...)` stands for its code, so `exec(compile("..."))` is read.
            "builtins.compile" => map1(0, &|v| match v {
                Value::Str(_) | Value::Bytes(_) => Some(v.clone()),
                _ => None,
            }),
            "builtins.chr" => map1(0, &fold::chr),
            "builtins.ord" => map1(0, &fold::ord),
            "builtins.str" => {
                if args.positional.len() >= 2 {
                    map1(0, &fold::decode)
                } else {
                    map1(0, &|v| v.to_text().map(Value::Str))
                }
            }
            "builtins.int" if args.positional.len() == 1 => map1(0, &|v| match v {
                Value::Str(s) => s.trim().parse::<i64>().ok().map(Value::Int),
                Value::Int(i) => Some(Value::Int(*i)),
                _ => None,
            }),
            "builtins.bytes" | "builtins.bytearray" => map1(0, &fold::bytes_of),
            "builtins.bytes.fromhex"
            | "builtins.bytearray.fromhex"
            | "binascii.unhexlify"
            | "binascii.a2b_hex"
            | "base64.b16decode" => map1(0, &fold::from_hex),
            "base64.b64decode"
            | "base64.standard_b64decode"
            | "base64.decodebytes"
            | "base64.decodestring"
            | "binascii.a2b_base64" => map1(0, &|v| fold::b64decode(v, false)),
            "base64.urlsafe_b64decode" => map1(0, &|v| fold::b64decode(v, true)),
            "base64.b32decode" => map1(0, &fold::b32decode),
            "codecs.encode" => {
                let codec = args
                    .get(Some(1), &["encoding"])
                    .and_then(|v| v.single())
                    .and_then(Value::as_str)
                    .unwrap_or("utf-8")
                    .to_string();
                if codec.replace(['-', '_'], "").eq_ignore_ascii_case("rot13") {
                    map1(0, &|v| fold::codecs_decode(v, &codec))
                } else {
                    ValSet::unknown()
                }
            }
            "codecs.decode" => {
                let codec = args
                    .get(Some(1), &["encoding"])
                    .and_then(|v| v.single())
                    .and_then(Value::as_str)
                    .unwrap_or("utf-8")
                    .to_string();
                map1(0, &|v| fold::codecs_decode(v, &codec))
            }
            "builtins.reversed" => map1(0, &|v| {
                v.elements().map(|mut e| {
                    e.reverse();
                    Value::List(e)
                })
            }),
            "builtins.list" | "builtins.tuple" => map1(0, &|v| v.elements().map(Value::List)),
            "builtins.map" if args.positional.len() == 2 => {
                let fs = arg(0);
                let Some(f) = fs.single() else {
                    return ValSet::unknown();
                };
                map1(1, &|v| {
                    let items = v.elements()?;
                    if items.len() > MAX_FOLD_ITEMS {
                        return None;
                    }
                    let mut out = Vec::with_capacity(items.len());
                    for it in items {
                        let one = Args {
                            positional: vec![],
                            keywords: vec![],
                            splat: false,
                        };
                        let r = match f {
                            Value::Func(id) => self.call_func(*id, std::slice::from_ref(&it), ctx),
                            Value::Path(p) => {
                                let fake = Args {
                                    positional: vec![(args.positional[1].0, ValSet::one(it))],
                                    ..one
                                };
                                self.call_path(p, &fake, ctx)
                            }
                            _ => return None,
                        };
                        out.push(r.single().cloned().unwrap_or(Value::Unknown));
                    }
                    Some(Value::List(out))
                })
            }
            "os.path.join"
            | "posixpath.join"
            | "pathlib.Path"
            | "pathlib.PurePath"
            | "pathlib.PosixPath"
            | "pathlib.PurePosixPath" => {
                if args.positional.is_empty() {
                    return ValSet::one(Value::Str(".".into()));
                }
                let parts: Vec<Value> = args
                    .positional
                    .iter()
                    .map(|(_, v)| v.single().cloned().unwrap_or(Value::Unknown))
                    .collect();
                ValSet::one(fold::path_join(&parts).unwrap_or(Value::Unknown))
            }
            "os.path.expanduser" | "os.path.abspath" | "os.path.normpath" | "os.path.realpath"
            | "os.fsencode" | "os.fsdecode" => map1(0, &|v| {
                v.as_str()
                    .filter(|s| s.starts_with('/') || s.starts_with('~'))
                    .map(|s| Value::Str(s.to_string()))
            }),
            "builtins.type" if args.positional.len() == 1 => arg(0).flat_map(|v| match v {
                Value::Func(_) => ValSet::one(Value::Path("types.FunctionType".into())),
                Value::Str(_) => ValSet::one(Value::Path("builtins.str".into())),
                _ => ValSet::unknown(),
            }),
            "builtins.object.__getattribute__" | "builtins.type.__getattribute__" => {
                let mut out = ValSet::empty();
                for o in arg(0).iter() {
                    for n in strings(1) {
                        out.extend(self.attr(o, &n));
                    }
                }
                out.or_unknown()
            }
            _ => {
                if let Some(base) = p
                    .strip_suffix(".__getattribute__")
                    .or_else(|| p.strip_suffix(".__getattr__"))
                {
                    let base = Value::Path(base.to_string());
                    return strings(0)
                        .iter()
                        .map(|n| self.attr(&base, n))
                        .fold(ValSet::empty(), |mut a, b| {
                            a.extend(b);
                            a
                        })
                        .or_unknown();
                }
                // An instance of a class whose methods a rule names is read as the class.
                if self.known.classes.contains(p) {
                    return ValSet::one(Value::Path(p.to_string()));
                }
                ValSet::unknown()
            }
        }
    }

    fn call_method(&self, recv: &Value, m: &str, args: &Args<'t>) -> ValSet {
        if let Value::Dict(_) = recv {
            return match (m, args.single(0)) {
                ("get" | "__getitem__" | "pop" | "setdefault", Some(k)) => self.index(recv, k),
                _ => ValSet::unknown(),
            };
        }
        if m == ATTRGETTER {
            let (Value::Str(name), Some((_, objs))) = (recv, args.positional.first()) else {
                return ValSet::unknown();
            };
            return objs.flat_map(|o| self.attr(o, name));
        }
        if let Value::Namespace(ns) = recv {
            return match m {
                "get" | "__getitem__" | "pop" | "setdefault" => {
                    let keys: Vec<String> = args
                        .positional
                        .first()
                        .map(|(_, v)| v.strings().map(str::to_string).collect())
                        .unwrap_or_default();
                    keys.iter()
                        .map(|k| self.ns_lookup(ns, k))
                        .fold(ValSet::empty(), |mut a, b| {
                            a.extend(b);
                            a
                        })
                        .or_unknown()
                }
                "copy" => ValSet::one(recv.clone()),
                _ => ValSet::unknown(),
            };
        }
        if m == "format" {
            let Value::Str(fmt) = recv else {
                return ValSet::unknown();
            };
            let pos: Option<Vec<Value>> = args
                .positional
                .iter()
                .map(|(_, v)| v.single().cloned())
                .collect();
            let kw: Option<Vec<(String, Value)>> = args
                .keywords
                .iter()
                .map(|(k, _, v)| v.single().cloned().map(|v| (k.clone(), v)))
                .collect();
            return match (pos, kw) {
                (Some(p), Some(k)) => {
                    ValSet::one(fold::brace_format(fmt, &p, &k).map_or(Value::Unknown, Value::Str))
                }
                _ => ValSet::unknown(),
            };
        }
        if let ("__getitem__", Some(k)) = (m, args.single(0)) {
            return self.index(recv, k);
        }
        let vals: Option<Vec<Value>> = args
            .positional
            .iter()
            .map(|(_, v)| v.single().cloned())
            .collect();
        match vals {
            Some(v) => ValSet::one(fold::str_method(recv, m, &v).unwrap_or(Value::Unknown)),
            None => ValSet::unknown(),
        }
    }

    fn comprehension(&self, node: Node<'t>, ctx: Ctx<'_>) -> ValSet {
        let kids: Vec<Node<'t>> = named_children(node).collect();
        let clauses: Vec<Node<'t>> = kids
            .iter()
            .copied()
            .filter(|c| c.k() == "for_in_clause")
            .collect();
        let has_if = kids.iter().any(|c| c.k() == "if_clause");
        let (Some(body), [clause], false) = (node.field("body"), clauses.as_slice(), has_if) else {
            return ValSet::unknown();
        };
        let (Some(left), Some(right)) = (clause.field("left"), clause.field("right")) else {
            return ValSet::unknown();
        };
        if left.k() != "identifier" {
            return ValSet::unknown();
        }
        let var = normalize_ident(text(left, self.src));
        let inner_scope = self
            .scopes
            .regions
            .get(&node.id())
            .copied()
            .unwrap_or(ctx.scope);
        let iter_vals = self.eval(
            right,
            Ctx {
                scope: inner_scope,
                ..ctx
            },
        );
        let Some(items) = iter_vals.single().and_then(Value::elements) else {
            return ValSet::unknown();
        };
        if items.len() > MAX_FOLD_ITEMS {
            return ValSet::unknown();
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ov: Vec<(String, Value)> = ctx.overrides.to_vec();
        ov.push((var, Value::Unknown));
        for it in items {
            if let Some(last) = ov.last_mut() {
                last.1 = it;
            }
            let inner = Ctx {
                scope: inner_scope,
                depth: ctx.depth + 1,
                overrides: &ov,
            };
            out.push(
                self.eval(body, inner)
                    .single()
                    .cloned()
                    .unwrap_or(Value::Unknown),
            );
        }
        ValSet::one(Value::List(out))
    }
}

/// Binary operation over two value sets (cartesian product, capped by `ValSet`).
fn binop(op: &str, l: &ValSet, r: &ValSet) -> ValSet {
    let mut out = ValSet::empty();
    for a in l.iter() {
        for b in r.iter() {
            let v = match (op, a, b) {
                ("/", Value::Str(_), Value::Str(_)) => fold::path_join(&[a.clone(), b.clone()]),
                _ => fold::binary(op, a, b),
            };
            out.push(v.unwrap_or(Value::Unknown));
        }
    }
    out
}

/// Path-building constants of the `os` module (POSIX values), so `os.path.join(os.sep, "etc")`
/// folds to `/etc`.
fn path_constant(module: &str, name: &str) -> Option<&'static str> {
    match (module, name) {
        ("os" | "os.path" | "posixpath" | "posix", "sep") => Some("/"),
        ("os" | "os.path" | "posixpath", "curdir") => Some("."),
        ("os" | "os.path" | "posixpath", "pardir") => Some(".."),
        _ => None,
    }
}

/// The constant module names passed to an import function (`name` may be a keyword).
fn module_names(args: &Args<'_>) -> Vec<String> {
    args.get(Some(0), &["name"])
        .map(|v| v.strings().map(str::to_string).collect())
        .unwrap_or_default()
}

trait OrUnknown {
    fn or_unknown(self) -> ValSet;
}

impl OrUnknown for ValSet {
    /// `{Unknown}` instead of the empty set.
    fn or_unknown(self) -> ValSet {
        if self.is_empty() {
            ValSet::unknown()
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every string pattern of a `call_path` arm is in `FOLDED_CALLS`, which is sorted
    /// (otherwise a call that folds would be skipped without its arguments).
    #[test]
    fn folded_calls_list_every_arm() {
        let src = include_str!("resolve.rs");
        let start = src.find("    fn call_path(").expect("call_path");
        let end = src.find("    fn call_method(").expect("call_method");
        assert!(
            super::FOLDED_CALLS.windows(2).all(|w| w[0] < w[1]),
            "sorted"
        );
        let mut seen = 0;
        for line in src[start..end].lines() {
            let t = line.trim_start().trim_start_matches("| ");
            if !t.starts_with('"') {
                continue;
            }
            let name = t.split('"').nth(1).unwrap_or("");
            let arm = line.contains("=>") || t.trim_end().ends_with('"');
            if arm && name.contains('.') && !name.contains(' ') {
                seen += 1;
                assert!(
                    super::FOLDED_CALLS.contains(&name),
                    "{name} missing from FOLDED_CALLS"
                );
            }
        }
        assert!(seen >= 50, "parsed only {seen} arms");
    }
}
