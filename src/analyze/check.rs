//! The checking pass: walks every node once and applies the rules to what the resolver
//! says each expression is.
//!
//! Where a finding is reported:
//! - a call whose callee resolves to a `calls` pattern (and whose arguments meet the rule's
//!   conditions): the whole call;
//! - an expression that is not itself called or dereferenced further and resolves to a
//!   `calls` pattern (`f = os.system`, `map(os.system, ...)`): that expression. Constants
//!   and exception classes (`subprocess.PIPE`, `subprocess.CalledProcessError`) are
//!   references too harmless to report;
//! - imports, attribute names, bare names, string literals and whole-object uses per rule.

use super::ast::Node;
use super::resolve::{Args, Ctx, METHODCALLER, Resolver};
use super::rules::{ArgSpec, Detector, Rule, Rules};
use super::scope::{Field, Kind, ScopeId, dotted, field_name, ident, normalize_ident, text};
use super::value::{Namespace, ValSet, Value};

/// A finding before it is turned into text: which rule, where, and what it resolved to.
#[derive(Debug, Clone)]
pub struct Raw {
    /// Index into the rule set, or `None` for a syntax error.
    pub rule: Option<usize>,
    pub start_byte: usize,
    pub end_byte: usize,
    pub start: (usize, usize),
    pub end: (usize, usize),
    /// What the expression resolved to, or the syntax error's description.
    pub detail: Option<String>,
}

impl Raw {
    fn at(node: Node<'_>, rule: Option<usize>, detail: Option<String>) -> Raw {
        let (s, e) = (node.start_position(), node.end_position());
        Raw {
            rule,
            start_byte: node.start_byte(),
            end_byte: node.end_byte(),
            start: (s.row, s.column),
            end: (e.row, e.column),
            detail,
        }
    }
}

/// Keywords that name the path argument of file and directory functions.
const PATH_KEYWORDS: &[&str] = &[
    "file",
    "path",
    "filename",
    "name",
    "top",
    "pathname",
    "fname",
    "src",
    "dst",
    "root_dir",
    "filepath_or_buffer",
    "path_or_buf",
    "io",
    "url",
];

/// Attribute names under which a mapping is read one key at a time (not dumped whole).
const KEYED_ACCESS: &[&str] = &[
    "get",
    "setdefault",
    "pop",
    "__getitem__",
    "__contains__",
    "update",
    "__setitem__",
    "putenv",
];

/// Runs the rules over a resolved file.
pub struct Checker<'r, 't> {
    pub r: &'r Resolver<'t>,
    pub rules: &'r Rules,
    pub out: Vec<Raw>,
    /// Nesting of code strings analysed inside code strings.
    pub nested: usize,
    /// What the opaque-payload detector has seen so far.
    opaque: Opaque<'t>,
    /// Code strings already analyzed in this file, with their raw findings.
    nested_cache: std::collections::HashMap<(ScopeId, String), std::rc::Rc<Vec<Raw>>>,
}

/// Evidence of an opaque payload: a large encoded literal, a decoder, and code sinks.
#[derive(Default)]
struct Opaque<'t> {
    /// Total length of string literals that look encoded (base64, hex, escaped bytes).
    blob: usize,
    /// A decoder ran somewhere (base64, zlib, bz2, lzma, hex, rot13, marshal, XOR).
    decoder: bool,
    /// Calls that turn data into code (`exec`, `eval`, `marshal.loads`, ...).
    sinks: Vec<Node<'t>>,
}

/// Literals from which encoded text counts as a payload (bytes, summed over the file).
const MIN_BLOB: usize = 128;

/// Calls that start a local process from a command line (where `python -c CODE` is read as
/// code); remote ones (`paramiko ... exec_command`) stay what they are.
fn local_process_call(q: &str) -> bool {
    [
        "subprocess.",
        "os.",
        "posix.",
        "asyncio.create_subprocess_",
        "pty.spawn",
    ]
    .iter()
    .any(|p| q.starts_with(p))
}

/// `pathlib` methods checked on a folded path (see `Checker::path_method`).
const PATH_METHODS: &[&str] = &[
    "read_text",
    "read_bytes",
    "iterdir",
    "glob",
    "rglob",
    "stat",
    "exists",
    "is_file",
    "is_dir",
    "lstat",
    "readlink",
    "open",
    "write_text",
    "write_bytes",
    "touch",
    "mkdir",
    "symlink_to",
    "hardlink_to",
    "unlink",
    "rmdir",
    "chmod",
    "rename",
    "replace",
];

/// Calls whose arguments matter even when no rule names them: dynamic imports and lookups
/// (`dynamic_call`) and sized allocations.
fn needs_arguments(q: &str) -> bool {
    matches!(
        q,
        "builtins.__import__"
            | "importlib.import_module"
            | "importlib.__import__"
            | "sys.modules.get"
            | "sys.modules.pop"
            | "sys.modules.__getitem__"
            | "imp.load_module"
            | "importlib.util.find_spec"
            | "builtins.getattr"
            | "builtins.setattr"
            | "builtins.delattr"
            | "builtins.hasattr"
            | "builtins.object.__getattribute__"
            | "builtins.type.__getattribute__"
            | "builtins.bytearray"
            | "builtins.bytes"
    ) || q.ends_with(".__getattribute__")
        || q.ends_with(".__getattr__")
}

/// Calls that decode data.
fn is_decoder(q: &str) -> bool {
    matches!(
        q,
        "zlib.decompress"
            | "zlib.decompressobj"
            | "bz2.decompress"
            | "bz2.BZ2Decompressor"
            | "lzma.decompress"
            | "lzma.LZMADecompressor"
            | "gzip.decompress"
            | "marshal.loads"
            | "codecs.decode"
            | "codecs.encode"
            | "builtins.bytes.fromhex"
            | "builtins.bytearray.fromhex"
    ) || q.starts_with("binascii.a2b_")
        || q == "binascii.unhexlify"
        || (q.starts_with("base64.") && q.contains("decode"))
}

/// Calls that turn data into running code.
fn is_code_sink(q: &str) -> bool {
    matches!(
        q,
        "builtins.exec"
            | "builtins.eval"
            | "builtins.compile"
            | "builtins.execfile"
            | "marshal.loads"
            | "marshal.load"
            | "types.FunctionType"
            | "types.CodeType"
            | "types.LambdaType"
            | "pickle.loads"
            | "_pickle.loads"
    )
}

/// Does a string literal's text look like an encoded payload (base64/hex alphabet or
/// `\x` escapes throughout, no spaces)?
fn looks_encoded(text: &str) -> bool {
    let n = text.len();
    if n < 64 {
        return false;
    }
    let mut alpha = 0usize;
    let mut space = 0usize;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-' | b'\\') {
            alpha += 1;
        } else if b.is_ascii_whitespace() {
            space += 1;
        }
    }
    alpha * 100 >= n * 95 && space * 100 <= n
}

struct Item<'t> {
    node: Node<'t>,
    scope: ScopeId,
    field: Option<&'t str>,
    parent: Option<Node<'t>>,
    /// Inside a type annotation (never evaluated for its effect).
    in_type: bool,
}

impl<'r, 't> Checker<'r, 't> {
    /// A checker over a resolved file, `nested` code strings deep.
    pub fn new(r: &'r Resolver<'t>, rules: &'r Rules, nested: usize) -> Self {
        Checker {
            r,
            rules,
            out: Vec::new(),
            nested,
            opaque: Opaque::default(),
            nested_cache: std::collections::HashMap::new(),
        }
    }

    /// Checks every node the binding pass recorded (see `scope::Visit`): the tree is
    /// traversed once, by that pass. A tree nested too deep for it is walked here instead.
    pub fn run(&mut self, root: Node<'t>) {
        let r = self.r;
        if r.scopes.too_deep.is_some() || r.scopes.visits_partial {
            self.walk(root);
        } else {
            for v in &r.scopes.visits {
                if !v.node.is_named() {
                    self.missing(v.node);
                    continue;
                }
                let it = Item {
                    node: v.node,
                    scope: v.scope,
                    field: v.field,
                    parent: v.parent,
                    in_type: v.in_type,
                };
                self.visit(&it);
            }
        }
        self.finish_opaque();
        self.recon_flow();
        if let Some(deep) = self.r.scopes.too_deep {
            self.out.push(Raw::at(
                deep,
                None,
                Some("nesting too deep to analyze (CPython refuses it too)".into()),
            ));
        }
    }

    /// Visits every node of the tree in order, with one cursor.
    fn walk(&mut self, root: Node<'t>) {
        // One cursor for the whole walk (a cursor per node costs an allocation each);
        // `ancestors` holds the parent chain with each ancestor's scope.
        let mut cursor = root.walk();
        let mut ancestors: Vec<(Node<'t>, ScopeId, bool)> = Vec::new();
        loop {
            let node = cursor.node();
            let (parent, parent_scope, in_type) = match ancestors.last() {
                Some(&(p, s, t)) => (Some(p), s, t || p.k() == "type"),
                None => (None, 0, false),
            };
            let scope = if node.is_named() {
                let scope = self
                    .r
                    .scopes
                    .regions
                    .get(&node.id())
                    .copied()
                    .unwrap_or(parent_scope);
                let it = Item {
                    node,
                    scope,
                    field: cursor.field_id().and_then(|id| field_name(id.get())),
                    parent,
                    in_type,
                };
                self.visit(&it);
                scope
            } else {
                // Punctuation and keywords (about half the nodes) matter only when the
                // parser had to invent them; no rule, scope region or field reads them.
                if node.is_missing() {
                    self.missing(node);
                }
                parent_scope
            };
            if cursor.goto_first_child() {
                ancestors.push((node, scope, in_type));
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    ancestors.clear();
                    break;
                }
                ancestors.pop();
            }
            if ancestors.is_empty() && cursor.node() == root {
                break;
            }
        }
    }

    /// An encoded blob, a decoder and a code sink in one file: the payload is opaque code.
    fn finish_opaque(&mut self) {
        if self.opaque.blob < MIN_BLOB || !self.opaque.decoder {
            return;
        }
        let rules: Vec<usize> = self.rules.detector(Detector::OpaqueCode).collect();
        let sinks = std::mem::take(&mut self.opaque.sinks);
        let detail = format!(
            "decodes {} bytes of encoded literals into code",
            self.opaque.blob
        );
        for sink in sinks {
            for &rule in &rules {
                self.emit(sink, rule, Some(detail.clone()));
            }
        }
    }

    /// Host identity read in a file that also talks to the network or runs a process:
    /// each identity read is reported again under the `recon-flow` detector.
    fn recon_flow(&mut self) {
        let rules: Vec<usize> = self.rules.detector(Detector::ReconFlow).collect();
        if rules.is_empty() {
            return;
        }
        let category = |r: &Raw, c: &[&str]| {
            r.rule
                .map(|i| self.rules.rule(i))
                .is_some_and(|rule| c.contains(&rule.category.as_str()))
        };
        let sends = self.out.iter().any(|r| {
            category(r, &["network", "process"])
                && r.rule
                    .is_some_and(|i| self.rules.rule(i).severity >= super::Severity::Warning)
        });
        if !sends {
            return;
        }
        let reads: Vec<Raw> = self
            .out
            .iter()
            .filter(|r| {
                category(r, &["recon"])
                    && r.rule.is_some_and(|i| {
                        let rule = self.rules.rule(i);
                        rule.severity == super::Severity::Info && rule.detect.is_none()
                    })
            })
            .cloned()
            .collect();
        for read in reads {
            for &rule in &rules {
                self.out.push(Raw {
                    rule: Some(rule),
                    ..read.clone()
                });
            }
        }
    }

    fn emit(&mut self, node: Node<'_>, rule: usize, detail: Option<String>) {
        self.out.push(Raw::at(node, Some(rule), detail));
    }

    /// A node the parser invented to recover from a syntax error.
    fn missing(&mut self, node: Node<'t>) {
        let what = format!("missing `{}`", node.k());
        self.out.push(Raw::at(node, None, Some(what)));
    }

    fn visit(&mut self, it: &Item<'t>) {
        let node = it.node;
        if node.is_missing() {
            self.missing(node);
            return;
        }
        if node.is_error() {
            self.out
                .push(Raw::at(node, None, Some("invalid syntax".into())));
            return;
        }
        let ctx = Ctx::new(it.scope);
        if node.k() == "string_content" {
            let len = node.end_byte() - node.start_byte();
            if len >= 64 && looks_encoded(text(node, self.r.src)) {
                self.opaque.blob += len;
            }
        }
        match node.k() {
            "call" => self.call(node, ctx),
            "attribute" => {
                if let Some(a) = node.field("attribute") {
                    let name = ident(text(a, self.r.src));
                    for &rule in self.rules.attribute_matches(&name) {
                        self.emit(node, rule, Some(name.to_string()));
                    }
                }
            }
            "identifier" if is_reference(it) => {
                let name = ident(text(node, self.r.src));
                for &rule in self.rules.name_matches(&name) {
                    self.emit(node, rule, Some(name.to_string()));
                }
            }
            "subscript" => self.subscript(node, ctx),
            "while_statement" => self.infinite_loop(node, ctx),
            "binary_operator" => self.huge_binary(node, ctx),
            "import_statement" => self.import(node),
            "import_from_statement" => self.import_from(node),
            // Docstrings and other bare string statements are never used as data.
            "string"
                if self.rules.has_strings()
                    && it.parent.is_none_or(|p| p.k() != "expression_statement") =>
            {
                let mut hits = Vec::new();
                match self.r.string(node, ctx) {
                    Value::Str(s) => self.rules.string_matches(&s, &mut hits),
                    Value::Bytes(b) => self
                        .rules
                        .string_matches(&String::from_utf8_lossy(&b), &mut hits),
                    _ => {}
                }
                for rule in hits {
                    self.emit(node, rule, None);
                }
            }
            "exec_statement" => {
                let mut hits = Vec::new();
                self.rules.call_matches("builtins.exec", &mut hits);
                for rule in hits {
                    self.emit(node, rule, Some("builtins.exec".into()));
                }
            }
            _ => {}
        }
        if matches!(node.k(), "identifier" | "attribute" | "subscript" | "call")
            && !it.in_type
            && is_reference(it)
        {
            self.reference(it, ctx);
        }
    }

    /// A value used other than by calling it or looking inside it.
    fn reference(&mut self, it: &Item<'t>, ctx: Ctx<'_>) {
        let node = it.node;
        let parent_kind = it.parent.map_or("", |p| p.k());
        let used_inside = matches!(
            (parent_kind, it.field),
            ("attribute", Some("object"))
                | ("subscript", Some("value"))
                | ("call", Some("function"))
        );
        let whole = self.rules.has_whole() && whole_use(it, self.r.src);
        if used_inside && !whole {
            return;
        }
        let vals = self.r.eval(node, ctx);
        if !used_inside {
            let mut hits = Vec::new();
            for q in vals.paths() {
                if harmless_member(q) {
                    continue;
                }
                hits.clear();
                self.rules.call_matches(q, &mut hits);
                for &rule in &hits {
                    if !self.rules.rule(rule).has_conditions() {
                        self.emit(node, rule, Some(q.to_string()));
                    }
                }
            }
        }
        if whole {
            for q in vals.paths() {
                for &rule in self.rules.whole_matches(q) {
                    self.emit(node, rule, Some(q.to_string()));
                }
            }
        }
    }

    fn call(&mut self, node: Node<'t>, ctx: Ctx<'_>) {
        let Some(f) = node.field("function") else {
            return;
        };
        let callee = self.r.eval(f, ctx);
        let mut paths: Vec<String> = callee.paths().map(str::to_string).collect();
        let caller = |v: &Value| match v {
            Value::Method(recv, m) if m == METHODCALLER => recv.as_str().map(str::to_string),
            _ => None,
        };
        let callers: Vec<String> = callee.iter().filter_map(caller).collect();
        let on_path = callee.iter().any(|v| {
            matches!(v, Value::Method(recv, m)
                if PATH_METHODS.contains(&m.as_str()) && matches!(recv.as_ref(), Value::Str(_)))
        });
        for q in &paths {
            if is_decoder(q) {
                self.opaque.decoder = true;
            }
            if is_code_sink(q) {
                self.opaque.sinks.push(node);
            }
        }
        // Most calls (`print`, `len`, methods of local objects) match nothing: skip
        // evaluating their arguments.
        let mut probe = Vec::new();
        let needs_args = paths.iter().any(|q| {
            probe.clear();
            self.rules.call_matches(q, &mut probe);
            !probe.is_empty() || needs_arguments(q)
        });
        if !needs_args && callers.is_empty() && !on_path {
            return;
        }
        let args = self.r.args(node, ctx);
        // `Path.home() / ".ssh" / "id_rsa"` folds to a path; its methods use that path.
        for v in callee.iter() {
            if let Value::Method(recv, m) = v
                && let Value::Str(p) = recv.as_ref()
            {
                self.path_method(node, f, p, m, &args, ctx);
            }
        }
        // `operator.methodcaller("system", "id")(os)` calls `os.system`.
        if let Some((_, objs)) = args.positional.first() {
            for name in &callers {
                for o in objs.iter() {
                    paths.extend(self.r.attr(o, name).paths().map(str::to_string));
                }
            }
        }
        if paths
            .iter()
            .any(|p| p == "builtins.bytearray" || p == "builtins.bytes")
        {
            self.huge_size(node, args.positional.first().map(|(_, v)| v));
        }
        let mut hits = Vec::new();
        // `python -c CODE` in a process call: CODE is read as Python instead.
        let mut python_code: Option<Vec<(Node<'t>, String)>> = None;
        for q in &paths {
            hits.clear();
            self.rules.call_matches(q, &mut hits);
            for &rule in &hits {
                let r = self.rules.rule(rule);
                if !self.conditions_hold(r, &args, ctx) {
                    continue;
                }
                if !r.code_arg.is_empty() {
                    self.code_strings(node, rule, &args, q, Some(ctx.scope));
                    continue;
                }
                if r.category == "process" && local_process_call(q) {
                    if python_code.is_none() {
                        python_code = Some(self.python_dash_c(&args).unwrap_or_default());
                    }
                    if python_code.as_ref().is_some_and(|c| !c.is_empty()) {
                        continue;
                    }
                }
                self.emit(node, rule, Some(q.clone()));
            }
            self.dynamic_call(node, q, &args);
        }
        if let Some(codes) = python_code.filter(|c| !c.is_empty()) {
            let detectors: Vec<usize> = self.rules.detector(Detector::PythonCodeProcess).collect();
            let Some(&rule) = detectors.first() else {
                return;
            };
            for d in detectors {
                self.emit(node, d, Some("python -c".into()));
            }
            for (arg, code) in codes {
                // A new interpreter: it sees none of this file's names.
                self.nested_code(node, rule, arg, &code, None);
            }
        }
    }

    /// A `pathlib` method called on a folded path (`Path("~/.ssh/id_rsa").read_text()`):
    /// checked as the function that does the same on that path (`open`, `os.remove`...).
    fn path_method(
        &mut self,
        node: Node<'t>,
        at: Node<'t>,
        path: &str,
        method: &str,
        args: &Args<'t>,
        ctx: Ctx<'_>,
    ) {
        let looks_like_path = path.starts_with(['/', '~']) || path.contains('/');
        if !looks_like_path {
            return;
        }
        let writes = |mode: Option<&ValSet>| {
            mode.is_some_and(|v| v.strings().any(|m| m.contains(['w', 'a', 'x', '+'])))
        };
        let (q, mode) = match method {
            "read_text" | "read_bytes" | "iterdir" | "glob" | "rglob" | "stat" | "exists"
            | "is_file" | "is_dir" | "lstat" | "readlink" => ("pathlib.Path", None),
            "open" if writes(args.get(Some(0), &["mode"])) => ("builtins.open", Some("w")),
            "open" => ("builtins.open", Some("r")),
            "write_text" | "write_bytes" | "touch" | "mkdir" | "symlink_to" | "hardlink_to" => {
                ("builtins.open", Some("w"))
            }
            "unlink" | "rmdir" | "chmod" | "rename" | "replace" => ("os.remove", None),
            _ => return,
        };
        let mut positional = vec![(at, ValSet::one(Value::Str(path.to_string())))];
        if let Some(m) = mode {
            positional.push((at, ValSet::one(Value::Str(m.to_string()))));
        }
        let synthetic = Args {
            positional,
            keywords: Vec::new(),
            splat: false,
        };
        let mut hits = Vec::new();
        self.rules.call_matches(q, &mut hits);
        for rule in hits {
            let r = self.rules.rule(rule);
            if r.has_conditions() && self.conditions_hold(r, &synthetic, ctx) {
                self.emit(node, rule, Some(format!("{path} .{method}()")));
            }
        }
    }

    /// A call with code-string arguments (`exec`, `eval`, `timeit.timeit`, ...): constant
    /// code is analyzed as Python and its findings reported at the string; code computed at
    /// run time reports the rule itself.
    fn code_strings(
        &mut self,
        node: Node<'t>,
        rule: usize,
        args: &Args<'t>,
        q: &str,
        scope: Option<ScopeId>,
    ) {
        let mut dynamic = false;
        let mut codes: Vec<(Node<'t>, String)> = Vec::new();
        for spec in &self.rules.rule(rule).code_arg {
            let kws: Vec<&str> = spec.keyword.iter().map(String::as_str).collect();
            let (Some(v), Some(n)) = (
                args.get(spec.position, &kws),
                args.node(spec.position, &kws),
            ) else {
                continue;
            };
            for x in v.iter() {
                match x {
                    Value::Str(code) => codes.push((n, code.clone())),
                    Value::Bytes(b) => codes.push((n, String::from_utf8_lossy(b).into_owned())),
                    // A callable of this file (`timeit.timeit(f)`) is code the analysis
                    // already reads. A module attribute (`exec(payload.CODE)`) is data from
                    // elsewhere: dynamic.
                    Value::Func(_) | Value::Class(_) | Value::Instance(_) | Value::Method(..) => {}
                    _ => dynamic = true,
                }
            }
        }
        if args.splat && codes.is_empty() {
            dynamic = true;
        }
        if dynamic {
            self.emit(node, rule, Some(q.to_string()));
        }
        codes.sort_by(|a, b| (a.0.id(), &a.1).cmp(&(b.0.id(), &b.1)));
        codes.dedup_by(|a, b| a.0.id() == b.0.id() && a.1 == b.1);
        for (n, code) in codes.into_iter().take(MAX_CODE_VARIANTS) {
            self.nested_code(node, rule, n, &code, scope);
        }
    }

    /// Analyzes `code` (the value of argument `arg` of `call`) as Python, one level deeper,
    /// and reports its findings at the string. Too deep, or not parsing, reports `rule`.
    ///
    /// `scope` is where the code runs in this file (its names are visible to the code:
    /// `import os as x; exec("x.system('id')")`), `None` for a new interpreter.
    fn nested_code(
        &mut self,
        call: Node<'t>,
        rule: usize,
        arg: Node<'t>,
        code: &str,
        scope: Option<ScopeId>,
    ) {
        if self.nested >= super::MAX_CODE_DEPTH {
            self.emit(
                call,
                rule,
                Some("code strings nested too deep to read".into()),
            );
            return;
        }
        let key = (scope.unwrap_or(usize::MAX), code.to_string());
        let inner = match self.nested_cache.get(&key) {
            Some(raws) => std::rc::Rc::clone(raws),
            None => {
                if !super::take_code_budget(code.len()) {
                    self.emit(call, rule, Some("too much code in strings to read".into()));
                    return;
                }
                let outer = scope.map(|sc| self.r.visible_names(sc));
                let raws =
                    std::rc::Rc::new(super::analyze_raw(code, self.rules, self.nested + 1, outer));
                self.nested_cache.insert(key, std::rc::Rc::clone(&raws));
                raws
            }
        };
        let base = exact_content(arg, self.r.src, code);
        let mut unparsable = false;
        for raw in inner.iter().cloned() {
            if raw.rule.is_none() {
                unparsable = true;
                continue;
            }
            let mapped = match base {
                Some((b, (row, col))) => Raw {
                    rule: raw.rule,
                    start_byte: b + raw.start_byte,
                    end_byte: b + raw.end_byte,
                    start: shift((row, col), raw.start),
                    end: shift((row, col), raw.end),
                    detail: raw.detail,
                },
                None => Raw {
                    detail: raw.detail,
                    ..Raw::at(arg, raw.rule, None)
                },
            };
            self.out.push(mapped);
        }
        if unparsable {
            self.emit(call, rule, Some("a code string that does not parse".into()));
        }
    }

    /// For a process call whose command runs a Python interpreter with `-c CODE` and a
    /// constant CODE (every possible value of the command): the code strings, with the
    /// node to report them at. `None` when the command is anything else.
    fn python_dash_c(&self, args: &Args<'t>) -> Option<Vec<(Node<'t>, String)>> {
        self.rules.detector(Detector::PythonCodeProcess).next()?;
        let keys = ["args", "cmd", "command", "program"];
        let v = args.get(Some(0), &keys)?;
        let n = args.node(Some(0), &keys)?;
        if v.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for x in v.iter() {
            let argv: Vec<Value> = match x {
                Value::List(items) => items.clone(),
                Value::Str(cmd) => shell_words(cmd)?.into_iter().map(Value::Str).collect(),
                _ => return None,
            };
            let (index, code) = python_c_code(&argv)?;
            // Report at the list element when the argument is a list literal.
            let at = match n.k() {
                "list" | "tuple" => u32::try_from(index)
                    .ok()
                    .and_then(|i| n.named_child(i))
                    .filter(|c| c.k() == "string"),
                _ => None,
            }
            .unwrap_or(n);
            out.push((at, code));
        }
        Some(out)
    }

    /// Dynamic imports and attribute lookups, and the attribute names they reach.
    fn dynamic_call(&mut self, node: Node<'t>, q: &str, args: &Args<'t>) {
        match q {
            "builtins.__import__"
            | "importlib.import_module"
            | "importlib.__import__"
            | "sys.modules.get"
            | "sys.modules.pop"
            | "sys.modules.__getitem__"
            | "imp.load_module"
            | "importlib.util.find_spec" => {
                let first = args.get(Some(0), &["name"]);
                let names: Vec<String> = first
                    .map(|v| v.strings().map(str::to_string).collect())
                    .unwrap_or_default();
                let computed = first.is_some_and(|v| v.iter().any(|x| x.as_str().is_none()));
                let fixed = args
                    .node(Some(0), &["name"])
                    .and_then(|n| self.fixed_package(n));
                if (computed && fixed.is_none()) || (first.is_none() && args.splat) {
                    for rule in self
                        .rules
                        .detector(Detector::DynamicImport)
                        .collect::<Vec<_>>()
                    {
                        self.emit(node, rule, Some(q.to_string()));
                    }
                }
                {
                    let mut hits = Vec::new();
                    for m in &names {
                        self.rules.import_matches(m, &mut hits);
                        for rule in hits.drain(..) {
                            self.emit(node, rule, Some(m.clone()));
                        }
                    }
                }
            }
            "builtins.getattr"
            | "builtins.setattr"
            | "builtins.delattr"
            | "builtins.hasattr"
            | "builtins.object.__getattribute__"
            | "builtins.type.__getattribute__" => {
                // (object, name) come first for all of these.
                self.attr_lookup(
                    node,
                    args.positional.first().map(|(_, v)| v.clone()),
                    args.positional.get(1).map(|(_, v)| v.clone()),
                );
            }
            _ => {
                if let Some(base) = q
                    .strip_suffix(".__getattribute__")
                    .or_else(|| q.strip_suffix(".__getattr__"))
                {
                    let obj = ValSet::one(Value::Path(base.to_string()));
                    self.attr_lookup(
                        node,
                        Some(obj),
                        args.positional.first().map(|(_, v)| v.clone()),
                    );
                }
            }
        }
    }

    fn attr_lookup(&mut self, node: Node<'t>, obj: Option<ValSet>, name: Option<ValSet>) {
        let Some(name) = name else { return };
        let consts: Vec<String> = name.strings().map(str::to_string).collect();
        for n in &consts {
            for &rule in self.rules.attribute_matches(n) {
                self.emit(node, rule, Some(n.clone()));
            }
        }
        let opaque = obj
            .as_ref()
            .is_none_or(|o| o.iter().any(|v| matches!(v, Value::Unknown)));
        if opaque {
            for n in &consts {
                for &rule in self.rules.lookup_name_matches(n) {
                    self.emit(node, rule, Some(n.clone()));
                }
            }
        }
        match obj {
            Some(obj) if name.iter().any(|v| v.as_str().is_none()) => {
                self.dynamic_attribute(node, &obj);
            }
            _ => {}
        }
    }

    fn dynamic_attribute(&mut self, node: Node<'t>, obj: &ValSet) {
        let sensitive = obj.iter().find_map(|v| match v {
            Value::Path(p) if p == "builtins" || self.rules.is_sensitive_module(p) => {
                Some(p.clone())
            }
            Value::Namespace(Namespace::Path(p))
                if p == "builtins" || self.rules.is_sensitive_module(p) =>
            {
                Some(p.clone())
            }
            _ => None,
        });
        if let Some(p) = sensitive {
            for rule in self
                .rules
                .detector(Detector::DynamicAttribute)
                .collect::<Vec<_>>()
            {
                self.emit(node, rule, Some(p.clone()));
            }
        }
    }

    fn subscript(&mut self, node: Node<'t>, ctx: Ctx<'_>) {
        let (Some(obj), Some(sub)) = (node.field("value"), node.field("subscript")) else {
            return;
        };
        if sub.k() == "slice" {
            return;
        }
        let objs = self.r.eval(obj, ctx);
        let keys = self.r.eval(sub, ctx);
        let constant = keys.strings().next().is_some();
        for o in objs.iter() {
            match o {
                Value::Path(p) if p == "sys.modules" => {
                    if constant {
                        let mut hits = Vec::new();
                        for m in keys.strings() {
                            self.rules.import_matches(m, &mut hits);
                        }
                        for rule in hits {
                            self.emit(node, rule, Some("sys.modules".into()));
                        }
                    } else {
                        for rule in self
                            .rules
                            .detector(Detector::DynamicImport)
                            .collect::<Vec<_>>()
                        {
                            self.emit(node, rule, Some("sys.modules".into()));
                        }
                    }
                }
                Value::Path(_) | Value::Namespace(Namespace::Path(_))
                    if !constant
                        && (matches!(o, Value::Namespace(_))
                            || o.as_path() == Some("builtins")) =>
                {
                    self.dynamic_attribute(node, &ValSet::one(o.clone()));
                }
                _ => {}
            }
        }
    }

    fn import(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        let mut hits = Vec::new();
        for n in names {
            let m = match n.k() {
                "aliased_import" => n.field("name").map(|m| dotted(m, self.r.src)),
                _ => Some(dotted(n, self.r.src)),
            };
            if let Some(m) = m {
                hits.clear();
                self.rules.import_matches(&m, &mut hits);
                for &rule in &hits {
                    self.emit(node, rule, Some(m.clone()));
                }
            }
        }
    }

    fn import_from(&mut self, node: Node<'t>) {
        let Some(module) = node.field("module_name") else {
            return;
        };
        if module.k() != "dotted_name" {
            return;
        }
        let m = dotted(module, self.r.src);
        let mut hits = Vec::new();
        self.rules.import_matches(&m, &mut hits);
        for &rule in &hits {
            self.emit(node, rule, Some(m.clone()));
        }
        let mut cursor = node.walk();
        let names: Vec<Node<'t>> = node.children_by_field_name("name", &mut cursor).collect();
        for n in names {
            let name_node = if n.k() == "aliased_import" {
                n.field("name")
            } else {
                Some(n)
            };
            let Some(name_node) = name_node else { continue };
            let full = format!("{m}.{}", dotted(name_node, self.r.src));
            hits.clear();
            self.rules.import_matches(&full, &mut hits);
            if !harmless_member(&full) {
                let mut calls = Vec::new();
                self.rules.call_matches(&full, &mut calls);
                hits.extend(
                    calls
                        .into_iter()
                        .filter(|&r| !self.rules.rule(r).has_conditions()),
                );
            }
            hits.sort_unstable();
            hits.dedup();
            for &rule in &hits {
                self.emit(n, rule, Some(full.clone()));
            }
        }
    }

    /// For `f"plugins.{name}"` or `"plugins." + name`: the fixed package (`plugins`) when it
    /// is not one any rule cares about, so importing inside it is not a computed escape.
    fn fixed_package(&self, node: Node<'t>) -> Option<String> {
        let head = match node.k() {
            "string" => node.named_child(1).filter(|c| c.k() == "string_content")?,
            "binary_operator" => node.field("left").filter(|c| c.k() == "string")?,
            _ => return None,
        };
        let text = text(head, self.r.src).trim_matches(|c| c == '"' || c == '\'');
        let (package, _) = text.rsplit_once('.')?;
        let top = package.split('.').next()?;
        let valid = !top.is_empty() && top.chars().all(|c| c == '_' || c.is_alphanumeric());
        let mut hits = Vec::new();
        self.rules.import_matches(package, &mut hits);
        (valid && hits.is_empty() && !self.rules.is_sensitive_module(top) && top != "builtins")
            .then(|| package.to_string())
    }

    /// `while True:` that nothing leaves.
    fn infinite_loop(&mut self, node: Node<'t>, ctx: Ctx<'_>) {
        let Some(cond) = node.field("condition") else {
            return;
        };
        // Only literal conditions: names and containers change while the loop runs.
        let literal = matches!(
            cond.k(),
            "true" | "integer" | "string" | "concatenated_string"
        );
        let always =
            literal && self.r.eval(cond, ctx).single().and_then(Value::truthy) == Some(true);
        if !always || node.field("alternative").is_some() {
            return;
        }
        let Some(body) = node.field("body") else {
            return;
        };
        if !leaves_loop(body, self.r.src, 0) {
            for rule in self
                .rules
                .detector(Detector::InfiniteLoop)
                .collect::<Vec<_>>()
            {
                self.emit(node, rule, None);
            }
        }
    }

    /// A constant size beyond what any submission needs (10^8 elements or more).
    fn huge_size(&mut self, node: Node<'t>, size: Option<&ValSet>) {
        let huge = size.is_some_and(|v| v.iter().any(|x| matches!(x, Value::Int(n) if *n >= HUGE)));
        if huge {
            for rule in self
                .rules
                .detector(Detector::HugeAllocation)
                .collect::<Vec<_>>()
            {
                self.emit(node, rule, None);
            }
        }
    }

    /// `seq * N` with a huge constant N, or `a ** b` with a huge constant exponent.
    fn huge_binary(&mut self, node: Node<'t>, ctx: Ctx<'_>) {
        let (Some(l), Some(r), Some(op)) = (
            node.field("left"),
            node.field("right"),
            node.field("operator"),
        ) else {
            return;
        };
        match text(op, self.r.src) {
            // XOR is how hand-written decoders undo their key.
            "^" => self.opaque.decoder = true,
            "*" => {
                let is_seq = |n: Node<'_>| {
                    matches!(n.k(), "string" | "list" | "tuple" | "concatenated_string")
                };
                if is_seq(l) {
                    self.huge_size(node, Some(&self.r.eval(r, ctx)));
                } else if is_seq(r) {
                    self.huge_size(node, Some(&self.r.eval(l, ctx)));
                }
            }
            "**" => {
                let exp = self.r.eval(r, ctx);
                let unfoldable = exp.single().is_some_and(|v| matches!(v, Value::Unknown))
                    && matches!(r.k(), "binary_operator")
                    && text(r, self.r.src).contains("**");
                let big = exp
                    .iter()
                    .any(|x| matches!(x, Value::Int(n) if *n >= 1_000_000));
                if big || unfoldable {
                    for rule in self
                        .rules
                        .detector(Detector::HugeAllocation)
                        .collect::<Vec<_>>()
                    {
                        self.emit(node, rule, None);
                    }
                }
            }
            _ => {}
        }
    }

    /// Do the call's arguments meet every condition of the rule?
    fn conditions_hold(&self, rule: &Rule, args: &Args<'t>, ctx: Ctx<'_>) -> bool {
        for (k, expected) in &rule.when_keyword {
            let Some(v) = args.get(None, &[k.as_str()]) else {
                return false;
            };
            if !v
                .iter()
                .any(|x| matches!(x, Value::Unknown) || toml_eq(expected, x))
            {
                return false;
            }
        }
        if rule
            .unless_arg
            .as_ref()
            .is_some_and(|spec| arg_is_safe(spec, args))
        {
            return false;
        }
        if !rule.path_prefixes.is_empty() {
            // The path argument, and for two-path calls (`shutil.copy(src, dst)`,
            // `os.rename(a, b)`) the second one too; `open`'s second argument is its mode.
            let mut candidates: Vec<&ValSet> =
                args.get(Some(0), PATH_KEYWORDS).into_iter().collect();
            if !rule.write_mode {
                candidates.extend(args.get(Some(1), &["dst", "destination", "target"]));
            }
            if candidates.is_empty() {
                return false;
            }
            let paths: Vec<String> = candidates
                .iter()
                .flat_map(|v| v.strings())
                .map(super::fold::normalize_path)
                .collect();
            let hit = paths.iter().any(|p| {
                rule.path_prefixes.iter().any(|pre| path_matches(pre, p))
                    && !rule.path_exempt.iter().any(|ex| path_matches(ex, p))
            });
            if !hit {
                return false;
            }
        }
        if rule.write_mode {
            let Some(v) = args.get(Some(1), &["mode"]) else {
                return false;
            };
            if !v.strings().any(|m| m.contains(['w', 'a', 'x', '+'])) {
                return false;
            }
        }
        let _ = ctx;
        true
    }
}

/// Node kinds `Checker::visit` acts on (besides errors and nodes the parser invented):
/// the binding pass records only these for it. Keep in step with `visit`.
pub(crate) fn acts_on(kind: &str) -> bool {
    matches!(
        kind,
        "call"
            | "attribute"
            | "identifier"
            | "subscript"
            | "while_statement"
            | "binary_operator"
            | "import_statement"
            | "import_from_statement"
            | "string"
            | "string_content"
            | "exec_statement"
    )
}

/// Most distinct constant values of one code argument that are analyzed.
const MAX_CODE_VARIANTS: usize = 16;

/// Position `inner` (row, byte column) of a text that starts at `base` in the file.
fn shift(base: (usize, usize), inner: (usize, usize)) -> (usize, usize) {
    if inner.0 == 0 {
        (base.0, base.1 + inner.1)
    } else {
        (base.0 + inner.0, inner.1)
    }
}

/// When `arg` is a plain string literal whose text between the quotes is exactly `code`
/// (no escapes, no interpolation): the byte offset and (row, byte column) where that text
/// starts, so findings inside it map to exact positions.
fn exact_content(arg: Node<'_>, src: &str, code: &str) -> Option<(usize, (usize, usize))> {
    if arg.k() != "string" {
        return None;
    }
    let start = arg.child(0).filter(|c| c.k() == "string_start")?;
    let end = arg
        .child(arg.child_count().checked_sub(1)?)
        .filter(|c| c.k() == "string_end")?;
    let inside = src.get(start.end_byte()..end.start_byte())?;
    let prefix = text(start, src).to_ascii_lowercase();
    if inside != code || prefix.contains('f') {
        return None;
    }
    let p = start.end_position();
    Some((start.end_byte(), (p.row, p.column)))
}

/// Splits a shell command line into words, or `None` when it uses anything beyond plain
/// words and quotes (pipes, lists, substitutions, redirections), which the analysis does
/// not read as a single program.
fn shell_words(cmd: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => cur.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => {
                            let next = chars.next()?;
                            if !matches!(next, '"' | '\\' | '$' | '`') {
                                cur.push('\\');
                            }
                            cur.push(next);
                        }
                        ch => cur.push(ch),
                    }
                }
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            ';' | '|' | '&' | '$' | '`' | '<' | '>' | '(' | ')' | '\n' | '\\' | '*' | '?' => {
                return None;
            }
            ch => {
                in_word = true;
                cur.push(ch);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// `[python3, (-I|-S|-u|...)*, -c, CODE, ...]`: the index of CODE and its text.
fn python_c_code(argv: &[Value]) -> Option<(usize, String)> {
    let is_python = match argv.first()? {
        Value::Path(p) => p == "sys.executable" || p == "sys._base_executable",
        Value::Str(s) => {
            let base = s.rsplit('/').next().unwrap_or(s);
            let rest = base
                .strip_prefix("python")
                .or_else(|| base.strip_prefix("pypy"))?;
            rest.chars().all(|c| c.is_ascii_digit() || c == '.')
        }
        _ => false,
    };
    if !is_python {
        return None;
    }
    for (i, a) in argv.iter().enumerate().skip(1) {
        let Value::Str(a) = a else { return None };
        if a == "-c" {
            return match argv.get(i + 1)? {
                Value::Str(code) => Some((i + 1, code.clone())),
                _ => None,
            };
        }
        // Only flags that take no value may come before `-c`.
        let flags_only = a.len() >= 2
            && a.starts_with('-')
            && a[1..].chars().all(|c| "bBdEhiIOPqsSuvVx".contains(c));
        if !flags_only {
            return None;
        }
    }
    None
}

/// Sizes from which a constant allocation is reported (10^8).
const HUGE: i64 = 100_000_000;

/// Does anything in a loop body leave the loop (`break`, `return`, `raise`, `yield`, an
/// exit call)? Nested loops' own `break`s do not count.
fn leaves_loop(node: Node<'_>, src: &str, depth: usize) -> bool {
    if depth > 200 {
        return true;
    }
    match node.k() {
        "break_statement" => return true,
        "return_statement" | "raise_statement" | "yield" | "await" => return true,
        "call" if call_may_leave(node, src) => return true,
        "function_definition" | "class_definition" | "lambda" => return false,
        _ => {}
    }
    let mut cursor = node.walk();
    let kids: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
    kids.into_iter().any(|c| {
        let nested = matches!(c.k(), "while_statement" | "for_statement");
        if nested {
            // A `break` inside a nested loop leaves only that loop; other exits still count.
            leaves_nested(c, src, depth + 1)
        } else {
            leaves_loop(c, src, depth + 1)
        }
    })
}

/// An exit call, or a call of a plain name that is not a builtin (a function of the file
/// or an import may well exit or raise), or `input()` (raises at end of input).
fn call_may_leave(node: Node<'_>, src: &str) -> bool {
    let Some(f) = node.field("function") else {
        return false;
    };
    let name = text(f, src);
    if matches!(
        name,
        "exit" | "quit" | "sys.exit" | "os._exit" | "os.abort" | "_exit" | "input"
    ) {
        return true;
    }
    f.k() == "identifier" && !super::resolve::is_builtin(&normalize_ident(name))
}

/// Exits other than `break` inside a nested loop.
fn leaves_nested(node: Node<'_>, src: &str, depth: usize) -> bool {
    if depth > 200 {
        return true;
    }
    match node.k() {
        "return_statement" | "raise_statement" | "yield" | "await" => return true,
        "call" if call_may_leave(node, src) => return true,
        "function_definition" | "class_definition" | "lambda" => return false,
        _ => {}
    }
    let mut cursor = node.walk();
    let kids: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
    kids.into_iter().any(|c| leaves_nested(c, src, depth + 1))
}

/// Is this node read as a value (not a binding site, a definition's name, a keyword name)?
fn is_reference(it: &Item<'_>) -> bool {
    let Some(parent) = it.parent else {
        return false;
    };
    let pk = parent.k();
    match (pk, it.field) {
        (_, Some("name")) if pk != "named_expression" => false,
        ("named_expression", Some("name")) => false,
        ("attribute", Some("attribute")) => false,
        (_, Some("left"))
            if matches!(
                pk,
                "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause"
            ) =>
        {
            false
        }
        (_, Some("alias")) => false,
        _ => !matches!(
            pk,
            "parameters"
                | "lambda_parameters"
                | "default_parameter"
                | "typed_parameter"
                | "typed_default_parameter"
                | "pattern_list"
                | "tuple_pattern"
                | "list_pattern"
                | "dotted_name"
                | "aliased_import"
                | "global_statement"
                | "nonlocal_statement"
                | "import_statement"
                | "import_from_statement"
                | "list_splat_pattern"
                | "dictionary_splat_pattern"
                | "keyword_pattern"
                | "as_pattern_target"
                | "case_pattern"
                | "class_pattern"
        ),
    }
}

/// Constants and exception classes inside a dangerous module do nothing by themselves.
fn harmless_member(q: &str) -> bool {
    let last = q.rsplit('.').next().unwrap_or(q);
    let caps = last.len() > 1
        && last
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    caps || last.ends_with("Error")
        || last.ends_with("Exception")
        || last.ends_with("Warning")
        || last == "TimeoutExpired"
}

/// Is a mapping used whole here (printed, iterated, copied, passed on) rather than read
/// one key at a time?
fn whole_use(it: &Item<'_>, src: &str) -> bool {
    let Some(parent) = it.parent else {
        return false;
    };
    match (parent.k(), it.field) {
        ("attribute", Some("object")) => {
            let name = parent
                .field("attribute")
                .map(|a| text(a, src))
                .unwrap_or("");
            !KEYED_ACCESS.contains(&name)
        }
        ("subscript", Some("value")) => false,
        ("call", Some("function")) => false,
        ("comparison_operator", _) => false,
        ("argument_list", _) | ("keyword_argument", Some("value")) => true,
        ("for_statement", Some("right")) | ("for_in_clause", Some("right")) => true,
        ("interpolation", _)
        | ("binary_operator", _)
        | ("list_splat", _)
        | ("dictionary_splat", _) => true,
        ("return_statement", _) | ("print_statement", _) | ("expression_statement", _) => true,
        ("assignment", Some("right")) => true,
        _ => false,
    }
}

/// `/` matches only the root, `/*` any absolute path, `~` any home-relative path, `=P`
/// exactly `P`, and any other prefix matches itself and what is below it.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern {
        "/" => path == "/",
        "/*" => path.starts_with('/'),
        "~" => path.starts_with('~'),
        // `https://`, `s3://`...: a URL of that scheme (any case).
        p if p.ends_with("://") => path
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p)),
        p if p.starts_with('=') => path.trim_end_matches('/') == p[1..].trim_end_matches('/'),
        p => {
            let p = p.trim_end_matches('/');
            path == p || (path.starts_with(p) && path.as_bytes().get(p.len()) == Some(&b'/'))
        }
    }
}

fn toml_eq(expected: &toml::Value, v: &Value) -> bool {
    match expected {
        toml::Value::Boolean(b) => v.truthy() == Some(*b),
        toml::Value::Integer(i) => matches!(v, Value::Int(x) if x == i),
        toml::Value::String(s) => v.as_str() == Some(s) || v.as_path() == Some(s),
        _ => false,
    }
}

fn arg_is_safe(spec: &ArgSpec, args: &Args<'_>) -> bool {
    let kws: Vec<&str> = spec.keyword.iter().map(String::as_str).collect();
    let Some(v) = args.get(spec.position, &kws) else {
        return false;
    };
    !v.is_empty()
        && v.iter().all(|x| {
            let repr = match x {
                Value::Path(p) => Some(p.clone()),
                other => other.to_text(),
            };
            repr.is_some_and(|r| spec.values.contains(&r))
        })
}
