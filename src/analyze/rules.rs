//! Rule sets: the data that says what the analyzer reports.
//!
//! Rules live in TOML (`policies/analysis/python.toml` is the default, embedded at build
//! time; `policies/analysis/strict.toml` extends it). A file is a list of `[[rule]]` tables
//! plus two optional top-level keys: `extends = "default"` (start from the default set; a
//! rule with an existing id replaces it) and `disable = ["rule-id", ...]`.
//!
//! What a rule matches (any of these; a rule may combine several):
//! - `calls`: dotted names, `*` matching one name component (`os.exec*`, `subprocess.*`).
//!   A pattern matches the resolved target of a call or of a reference and anything below it
//!   (`os.system` also matches `os.system.__call__`); builtins are `builtins.NAME`.
//! - `imports`: modules whose import (static or dynamic) is reported, with their submodules.
//! - `attributes`: attribute names, reported wherever they are accessed (`x.NAME`,
//!   `getattr(x, 'NAME')`), e.g. `__subclasses__`.
//! - `names`: bare identifiers (`__builtins__`).
//! - `strings`: substrings of string literals (`/etc/shadow`).
//! - `whole`: objects reported when used whole rather than through `.get(...)`/`[key]`
//!   (`os.environ` printed or iterated).
//! - `lookup_names`: names reported when looked up by string (`getattr(x, "system")`) on
//!   an object the analyzer could not resolve.
//! - `detect`: a built-in detector: `dynamic-import` (module name computed at runtime),
//!   `dynamic-attribute` (attribute name computed at runtime on a module some rule covers),
//!   `infinite-loop` (a constant-true loop nothing leaves), `huge-allocation` (constant sizes
//!   far beyond a sandbox's memory).
//! - `calls_except`: patterns carved out of `calls` (`socket.gethostname` out of `socket.*`).
//!
//! Conditions that narrow `calls` (all must hold): `when_keyword = { shell = true }`,
//! `unless_arg = { position = 1, keyword = "Loader", values = ["yaml.SafeLoader"] }`
//! (reported unless that argument resolves to one of the values), `path_prefixes` /
//! `path_exempt` (the path argument folds to a string under one of them; `=P` means exactly
//! `P`, `/` only the root, `/*` any absolute path, `~` the home directory), and
//! `write_mode = true` (the mode argument opens for writing), and
//! `code_arg = { position = 0, keyword = "stmt" }` (or a list of such tables: the arguments
//! that are code given as a string). A rule with `code_arg` reports the call only when one of
//! those arguments is computed at run time (cannot be folded to constant text); a constant
//! code string is parsed and analyzed as Python itself (nested up to
//! [`MAX_CODE_DEPTH`](super::MAX_CODE_DEPTH) levels) and what it does is reported at the
//! string's position (`timeit.timeit("os.system('id')")` reports `process-exec`).

use super::Severity;
use super::scope::FastMap;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use toml::Spanned;

/// The default rule set (capabilities, not names).
pub const DEFAULT_RULES: &str = include_str!("../../policies/analysis/python.toml");
/// Capabilities of well-known third-party libraries (browser automation, webhooks, git,
/// SSH, cloud SDKs, remote data), part of the default set.
pub const LIBRARY_RULES: &str = include_str!("../../policies/analysis/libraries.toml");
/// The strict extension (also refuses process, network and native-code imports).
pub const STRICT_RULES: &str = include_str!("../../policies/analysis/strict.toml");

/// A rule file could not be read or is malformed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read rule file {path}: {source}")]
    Io {
        /// The path given to [`Rules::load`].
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown key or a value of the wrong type.
    #[error("{origin}:{line}:{column}: {}{message}", key.as_ref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
    Syntax {
        /// Where the text came from (a path or a name).
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (characters) of the error.
        column: usize,
        /// The key at or nearest the error, when one can be named.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A well-formed rule with a meaningless value (empty id, duplicate id, bad pattern...).
    #[error("{origin}:{line}: rule `{rule}`: key `{key}`: {message}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// 1-based line of the rule's `id`.
        line: usize,
        /// The rule id.
        rule: String,
        /// The offending key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Which argument of a call a condition looks at.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgSpec {
    /// 0-based positional index.
    #[serde(default)]
    pub position: Option<usize>,
    /// Keyword name.
    #[serde(default)]
    pub keyword: Option<String>,
    /// Accepted values: dotted names (`yaml.SafeLoader`) or constants written as Python
    /// would print them (`True`).
    #[serde(default)]
    pub values: Vec<String>,
}

/// Built-in detectors that are not a simple pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// `__import__(x)`, `importlib.import_module(x)`, `sys.modules[x]` with a computed `x`.
    DynamicImport,
    /// `getattr(m, x)` / `vars(m)[x]` with a computed `x` on a module some rule covers.
    DynamicAttribute,
    /// `while True:` (or another constant-true test) with no `break`, `return`, `raise`,
    /// `yield` or exit call inside: the program never ends by itself.
    InfiniteLoop,
    /// A constant-size allocation or computation too big for a sandbox (`'a' * 10**10`,
    /// `bytearray(10**10)`, `9 ** 9 ** 9`).
    HugeAllocation,
    /// A process call whose command runs a Python interpreter on constant code
    /// (`subprocess.run(["python3", "-c", "print(1)"])`): the code is analyzed as Python, the
    /// call is reported under this rule instead of the process rules it matched.
    PythonCodeProcess,
    /// Code that cannot be read: an encrypted module (`__pyarmor__(...)`), or a large encoded
    /// blob decoded (base64, zlib, marshal, bz2, lzma, hex, rot13, XOR) on its way to
    /// `exec`/`eval`/`marshal.loads`/`types.FunctionType`.
    OpaqueCode,
    /// Host identity (a rule with this detector names the identity calls in `calls`) that
    /// flows into a network or process call in the same file.
    ReconFlow,
}

/// One rule (the keys are described in the module documentation and in
/// `policies/analysis/python.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, reported as the finding's `rule`.
    pub id: String,
    /// Capability category (`process`, `network`, `dynamic-code`, ...).
    pub category: String,
    /// Severity of every finding of this rule.
    pub severity: Severity,
    /// What the finding tells the submitter.
    pub message: String,
    /// Dotted call/reference patterns (`os.exec*`).
    pub calls: Vec<String>,
    /// Modules whose import is reported.
    pub imports: Vec<String>,
    /// Attribute names reported wherever accessed.
    pub attributes: Vec<String>,
    /// Bare identifiers reported.
    pub names: Vec<String>,
    /// Substrings of string literals reported.
    pub strings: Vec<String>,
    /// Objects reported when used whole.
    pub whole: Vec<String>,
    /// Patterns carved out of `calls`.
    pub calls_except: Vec<String>,
    /// Names reported when looked up by string on an unknown object.
    pub lookup_names: Vec<String>,
    /// A built-in detector.
    pub detect: Option<Detector>,
    /// Keyword arguments that must have these values for `calls` to match.
    pub when_keyword: BTreeMap<String, toml::Value>,
    /// An argument whose safe value exempts the call.
    pub unless_arg: Option<ArgSpec>,
    /// Path prefixes the path argument must fold under.
    pub path_prefixes: Vec<String>,
    /// Path prefixes exempt from `path_prefixes`.
    pub path_exempt: Vec<String>,
    /// The mode argument must open for writing.
    pub write_mode: bool,
    /// Arguments that are code given as a string (analyzed as code when constant).
    pub code_arg: Vec<ArgSpec>,
}

impl Rule {
    /// True when the rule narrows its `calls` with conditions on the arguments.
    pub fn has_conditions(&self) -> bool {
        !self.when_keyword.is_empty()
            || self.unless_arg.is_some()
            || !self.path_prefixes.is_empty()
            || self.write_mode
            || !self.code_arg.is_empty()
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    extends: Option<Spanned<String>>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    category: String,
    severity: Severity,
    message: String,
    #[serde(default)]
    calls: Vec<String>,
    #[serde(default)]
    imports: Vec<String>,
    #[serde(default)]
    attributes: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    strings: Vec<String>,
    #[serde(default)]
    whole: Vec<String>,
    #[serde(default)]
    calls_except: Vec<String>,
    #[serde(default)]
    lookup_names: Vec<String>,
    #[serde(default)]
    detect: Option<Detector>,
    #[serde(default)]
    when_keyword: BTreeMap<String, toml::Value>,
    #[serde(default)]
    unless_arg: Option<ArgSpec>,
    #[serde(default)]
    path_prefixes: Vec<String>,
    #[serde(default)]
    path_exempt: Vec<String>,
    #[serde(default)]
    write_mode: bool,
    #[serde(default)]
    code_arg: Option<OneOrMany>,
}

/// `code_arg` takes one table or a list of them.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(ArgSpec),
    Many(Vec<ArgSpec>),
}

/// A rule set, with lookup tables built once so that matching is cheap.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    index: Index,
}

/// Lookup tables derived from the rules.
#[derive(Debug, Clone, Default)]
struct Index {
    exact_calls: FastMap<String, Vec<usize>>,
    lookup_names: FastMap<String, Vec<usize>>,
    /// Glob patterns bucketed by their first dotted component (when it has no `*`).
    glob_calls: FastMap<String, Vec<(String, usize)>>,
    /// Glob patterns whose first component is itself a glob.
    glob_any: Vec<(String, usize)>,
    imports: Vec<(String, usize)>,
    attributes: FastMap<String, Vec<usize>>,
    names: FastMap<String, Vec<usize>>,
    /// `strings` patterns bucketed by their first byte (a literal is scanned once, trying
    /// only the patterns that can start at each byte).
    strings: Vec<Vec<(String, usize)>>,
    whole: FastMap<String, Vec<usize>>,
    detectors: Vec<(Detector, usize)>,
    sensitive_modules: HashSet<String>,
    /// Names the resolver needs from the rules.
    known: Arc<KnownNames>,
}

/// Names the resolver takes from the rules.
#[derive(Debug, Default)]
pub(crate) struct KnownNames {
    /// First components of every `calls` pattern (`os`, `requests`): a name never bound in a
    /// file that is one of these is taken to be that module (provided at run time through
    /// `__import__`, `builtins` or an injected global).
    pub modules: HashSet<String>,
    /// Classes some pattern reaches a method of (`git.Git` for `git.Git.clone`): an instance
    /// of one (`git.Git(d)`) is read as the class, so its methods resolve.
    pub classes: HashSet<String>,
}

impl Default for Rules {
    /// The default rule set (`policies/analysis/python.toml` and `libraries.toml`).
    fn default() -> Self {
        Rules::default_set().unwrap_or_else(|_| Rules::empty())
    }
}

/// Modules that other modules commonly hold as attributes (their own imports), which makes
/// `<module>.<name>.<attr>` another spelling of `<name>.<attr>`.
const REEXPORTED_MODULES: &[&str] = &[
    "os",
    "sys",
    "posix",
    "nt",
    "subprocess",
    "builtins",
    "importlib",
    "ctypes",
    "pickle",
    "marshal",
    "socket",
    "shutil",
    "pty",
    "io",
    "codecs",
    "runpy",
    "multiprocessing",
    "asyncio",
    "threading",
    "signal",
    "types",
    "gc",
    "inspect",
];

impl Rules {
    /// A rule set with no rules (only syntax errors are reported).
    pub fn empty() -> Self {
        Rules {
            rules: Vec::new(),
            index: Index::default(),
        }
    }

    /// The standard library rules plus the third-party library rules.
    fn default_set() -> Result<Rules, Error> {
        let mut rules = Rules::from_toml_str(DEFAULT_RULES, "policies/analysis/python.toml")?;
        rules.extend(Rules::from_toml_str(
            LIBRARY_RULES,
            "policies/analysis/libraries.toml",
        )?);
        Ok(rules)
    }

    /// The strict stance: the default rules plus refusing process, network and native-code
    /// module imports outright (`policies/analysis/strict.toml`).
    pub fn strict() -> Self {
        Rules::from_toml_str(STRICT_RULES, "policies/analysis/strict.toml")
            .unwrap_or_else(|_| Rules::default())
    }

    /// Parses a rule file's text; `origin` names it in errors. A file with
    /// `extends = "default"` (or `"strict"`) starts from that set.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Rules, Error> {
        let raw: RawFile = toml::from_str(text).map_err(|e| syntax_error(text, origin, &e))?;
        let mut base = match raw
            .extends
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None => Rules::empty(),
            Some(("default", _)) => Rules::default_set()?,
            Some(("strict", _)) => {
                Rules::from_toml_str(STRICT_RULES, "policies/analysis/strict.toml")?
            }
            Some((other, span)) => {
                let (line, column) = line_col(text, span.start);
                return Err(Error::Syntax {
                    origin: origin.into(),
                    line,
                    column,
                    key: Some("extends".into()),
                    message: format!(
                        "unknown base rule set `{other}` (expected \"default\" or \"strict\")"
                    ),
                });
            }
        };
        let mut seen = HashSet::new();
        let mut own = Vec::with_capacity(raw.rule.len());
        for r in raw.rule {
            let rule = validate(r, text, origin, &mut seen)?;
            own.push(rule);
        }
        base.rules.retain(|r| !raw.disable.contains(&r.id));
        base.extend(Rules::from_rules(own));
        Ok(base)
    }

    /// Reads and parses a rule file.
    pub fn load(path: impl AsRef<Path>) -> Result<Rules, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Rules::from_toml_str(&text, &path.display().to_string())
    }

    /// Adds `other`'s rules; a rule whose id already exists replaces the old one.
    pub fn extend(&mut self, other: Rules) {
        for rule in other.rules {
            match self.rules.iter_mut().find(|r| r.id == rule.id) {
                Some(slot) => *slot = rule,
                None => self.rules.push(rule),
            }
        }
        self.index = Index::build(&self.rules);
    }

    /// Removes the rule with this id; returns whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.index = Index::build(&self.rules);
        before != self.rules.len()
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn from_rules(rules: Vec<Rule>) -> Rules {
        let index = Index::build(&rules);
        Rules { rules, index }
    }

    /// This set plus `extra` rules, kept even when an id repeats (the multi-file analysis
    /// reports a sibling's finding under the sibling's rule id).
    pub(crate) fn with_extra(&self, extra: Vec<Rule>) -> Rules {
        let mut rules = self.rules.clone();
        rules.extend(extra);
        Rules::from_rules(rules)
    }

    pub(crate) fn rule(&self, i: usize) -> &Rule {
        &self.rules[i]
    }

    /// Rules whose `calls` patterns match the dotted name `q` (or a dotted prefix of it).
    ///
    /// A module reached as an attribute of another module is that module (`os.path.os`,
    /// `shutil.os`, `subprocess.os`, `os.sys` — modules keep their imports as attributes), so
    /// the part of `q` from such a component on is matched as well.
    pub(crate) fn call_matches(&self, q: &str, out: &mut Vec<usize>) {
        let mut hits = Vec::new();
        self.call_matches_exact(q, &mut hits);
        let mut offset = 0;
        for (i, component) in q.split('.').enumerate() {
            if i > 0 && REEXPORTED_MODULES.contains(&component) {
                let mut more = Vec::new();
                self.call_matches_exact(&q[offset..], &mut more);
                hits.extend(more);
            }
            offset += component.len() + 1;
        }
        hits.sort_unstable();
        hits.dedup();
        out.extend(hits);
        out.sort_unstable();
        out.dedup();
    }

    fn call_matches_exact(&self, q: &str, out: &mut Vec<usize>) {
        let first = q.split('.').next().unwrap_or(q);
        let mut end = 0;
        let bytes = q.as_bytes();
        loop {
            let next = q[end..].find('.').map(|i| end + i);
            let stop = next.unwrap_or(q.len());
            let prefix = &q[..stop];
            if let Some(ids) = self.index.exact_calls.get(prefix) {
                out.extend(ids.iter().copied());
            }
            let bucket = self
                .index
                .glob_calls
                .get(first)
                .map_or(&[][..], Vec::as_slice);
            for (pat, id) in bucket.iter().chain(&self.index.glob_any) {
                if glob(pat, prefix) {
                    out.push(*id);
                }
            }
            match next {
                Some(i) if i + 1 < bytes.len() => end = i + 1,
                _ => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| {
            !self.rules[i]
                .calls_except
                .iter()
                .any(|p| pattern_covers(p, q))
        });
    }

    /// Rules reporting `name` looked up by string on an object the analyzer cannot resolve.
    pub(crate) fn lookup_name_matches(&self, name: &str) -> &[usize] {
        self.index.lookup_names.get(name).map_or(&[], Vec::as_slice)
    }

    /// Rules whose `imports` cover the module `m`.
    pub(crate) fn import_matches(&self, m: &str, out: &mut Vec<usize>) {
        for (pat, id) in &self.index.imports {
            if m == pat
                || (m.starts_with(pat.as_str()) && m.as_bytes().get(pat.len()) == Some(&b'.'))
            {
                out.push(*id);
            }
        }
    }

    pub(crate) fn attribute_matches(&self, name: &str) -> &[usize] {
        self.index.attributes.get(name).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn name_matches(&self, name: &str) -> &[usize] {
        self.index.names.get(name).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn whole_matches(&self, q: &str) -> &[usize] {
        self.index.whole.get(q).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn has_whole(&self) -> bool {
        !self.index.whole.is_empty()
    }

    pub(crate) fn string_matches(&self, s: &str, out: &mut Vec<usize>) {
        if self.index.strings.is_empty() {
            return;
        }
        let bytes = s.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            for (pat, id) in &self.index.strings[usize::from(b)] {
                if bytes[i..].starts_with(pat.as_bytes()) {
                    out.push(*id);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    pub(crate) fn has_strings(&self) -> bool {
        !self.index.strings.is_empty()
    }

    pub(crate) fn detector(&self, d: Detector) -> impl Iterator<Item = usize> + '_ {
        self.index
            .detectors
            .iter()
            .filter(move |(k, _)| *k == d)
            .map(|(_, i)| *i)
    }

    /// True when some `calls` pattern reaches inside module `m` (so a computed attribute of
    /// `m` might be one of them).
    pub(crate) fn is_sensitive_module(&self, m: &str) -> bool {
        self.index.sensitive_modules.contains(m)
    }

    /// Module and class names the rules cover (see [`KnownNames`]).
    pub(crate) fn known_names(&self) -> Arc<KnownNames> {
        Arc::clone(&self.index.known)
    }
}

impl Index {
    fn build(rules: &[Rule]) -> Index {
        let mut ix = Index::default();
        for (i, r) in rules.iter().enumerate() {
            for n in &r.lookup_names {
                ix.lookup_names.entry(n.clone()).or_default().push(i);
            }
            for c in &r.calls {
                if c.contains('*') {
                    let first = c.split('.').next().unwrap_or("");
                    if first.contains('*') {
                        ix.glob_any.push((c.clone(), i));
                    } else {
                        ix.glob_calls
                            .entry(first.to_string())
                            .or_default()
                            .push((c.clone(), i));
                    }
                } else {
                    ix.exact_calls.entry(c.clone()).or_default().push(i);
                }
                // Only unconditional, blocking rules make a module sensitive.
                if r.has_conditions() || r.severity < Severity::Warning {
                    continue;
                }
                let comps: Vec<&str> = c.split('.').collect();
                for n in 1..comps.len() {
                    let prefix = comps[..n].join(".");
                    if prefix.contains('*') {
                        break;
                    }
                    ix.sensitive_modules.insert(prefix);
                }
            }
            for m in &r.imports {
                ix.imports.push((m.clone(), i));
            }
            for a in &r.attributes {
                ix.attributes.entry(a.clone()).or_default().push(i);
            }
            for n in &r.names {
                ix.names.entry(n.clone()).or_default().push(i);
            }
            for s in &r.strings {
                if ix.strings.is_empty() {
                    ix.strings = vec![Vec::new(); 256];
                }
                if let Some(&b) = s.as_bytes().first() {
                    ix.strings[usize::from(b)].push((s.clone(), i));
                }
            }
            for w in &r.whole {
                ix.whole.entry(w.clone()).or_default().push(i);
            }
            if let Some(d) = r.detect {
                ix.detectors.push((d, i));
            }
        }
        let mut known = KnownNames::default();
        for r in rules {
            for c in &r.calls {
                let comps: Vec<&str> = c.split('.').collect();
                let first = comps[0];
                if !first.is_empty() && !first.contains('*') && first != "builtins" {
                    known.modules.insert(first.to_string());
                }
                for n in 2..comps.len() {
                    let last = comps[n - 1];
                    if comps[..n].iter().any(|p| p.contains('*')) {
                        break;
                    }
                    if last.starts_with(|ch: char| ch.is_ascii_uppercase()) {
                        known.classes.insert(comps[..n].join("."));
                    }
                }
            }
        }
        ix.known = Arc::new(known);
        ix
    }
}

/// Does `pattern` match `q` or one of its dotted prefixes?
fn pattern_covers(pattern: &str, q: &str) -> bool {
    let mut end = 0;
    loop {
        let next = q[end..].find('.').map(|i| end + i);
        let prefix = &q[..next.unwrap_or(q.len())];
        if glob(pattern, prefix) {
            return true;
        }
        match next {
            Some(i) => end = i + 1,
            None => return false,
        }
    }
}

/// `*` matches any run of characters except `.`; everything else matches itself.
pub(crate) fn glob(pat: &str, text: &str) -> bool {
    let p = pat.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            if t[st] == b'.' {
                return false;
            }
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

fn validate(
    r: RawRule,
    text: &str,
    origin: &str,
    seen: &mut HashSet<String>,
) -> Result<Rule, Error> {
    let span: Range<usize> = r.id.span();
    let id = r.id.into_inner();
    let (line, _) = line_col(text, span.start);
    let invalid = |key: &str, message: String| Error::Invalid {
        origin: origin.into(),
        line,
        rule: id.clone(),
        key: key.into(),
        message,
    };
    if id.trim().is_empty() || id.chars().any(char::is_whitespace) {
        return Err(invalid("id", "must be a non-empty word".into()));
    }
    if !seen.insert(id.clone()) {
        return Err(invalid("id", "duplicate rule id in this file".into()));
    }
    if r.message.trim().is_empty() {
        return Err(invalid("message", "must not be empty".into()));
    }
    if r.category.trim().is_empty() {
        return Err(invalid("category", "must not be empty".into()));
    }
    for (key, list) in [
        ("calls", &r.calls),
        ("imports", &r.imports),
        ("whole", &r.whole),
        ("calls_except", &r.calls_except),
    ] {
        for p in list {
            let ok = !p.is_empty()
                && p.split('.').all(|c| {
                    !c.is_empty()
                        && c.chars()
                            .all(|ch| ch == '_' || ch == '*' || ch.is_alphanumeric())
                })
                && (key == "calls" || !p.contains('*'));
            if !ok {
                return Err(invalid(
                    key,
                    format!(
                        "`{p}` is not a dotted name{}",
                        if key == "calls" { " pattern" } else { "" }
                    ),
                ));
            }
        }
    }
    for (key, list) in [("attributes", &r.attributes), ("names", &r.names)] {
        for p in list {
            if p.is_empty() || p.contains('.') || p.chars().any(char::is_whitespace) {
                return Err(invalid(key, format!("`{p}` is not an identifier")));
            }
        }
    }
    if r.strings.iter().any(String::is_empty) {
        return Err(invalid(
            "strings",
            "empty substring would match everything".into(),
        ));
    }
    let matches_something = !r.calls.is_empty()
        || !r.imports.is_empty()
        || !r.attributes.is_empty()
        || !r.names.is_empty()
        || !r.strings.is_empty()
        || !r.whole.is_empty()
        || !r.lookup_names.is_empty()
        || r.detect.is_some();
    if !matches_something {
        return Err(invalid("calls", "the rule matches nothing (give calls, imports, attributes, names, strings, whole or detect)".into()));
    }
    let conditional = !r.when_keyword.is_empty()
        || r.unless_arg.is_some()
        || !r.path_prefixes.is_empty()
        || r.write_mode
        || r.code_arg.is_some();
    if conditional && r.calls.is_empty() {
        return Err(invalid("calls", "argument conditions need `calls`".into()));
    }
    let code_arg = match r.code_arg {
        None => Vec::new(),
        Some(OneOrMany::One(a)) => vec![a],
        Some(OneOrMany::Many(v)) => v,
    };
    let specs = r
        .unless_arg
        .iter()
        .map(|a| ("unless_arg", a))
        .chain(code_arg.iter().map(|a| ("code_arg", a)));
    for (key, spec) in specs {
        if spec.position.is_none() && spec.keyword.is_none() {
            return Err(invalid(key, "give `position` or `keyword`".into()));
        }
    }
    Ok(Rule {
        id,
        category: r.category,
        severity: r.severity,
        message: r.message,
        calls: r.calls,
        imports: r.imports,
        attributes: r.attributes,
        names: r.names,
        strings: r.strings,
        whole: r.whole,
        calls_except: r.calls_except,
        lookup_names: r.lookup_names,
        detect: r.detect,
        when_keyword: r.when_keyword,
        unless_arg: r.unless_arg,
        path_prefixes: r.path_prefixes,
        path_exempt: r.path_exempt,
        write_mode: r.write_mode,
        code_arg,
    })
}

fn syntax_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let start = e.span().map_or(0, |s| s.start);
    let (line, column) = line_col(text, start);
    let message = e.message().trim().to_string();
    let key = key_from_message(&message).or_else(|| key_on_line(text, start));
    Error::Syntax {
        origin: origin.into(),
        line,
        column,
        key,
        message,
    }
}

/// serde names the key in messages like "unknown field `foo`" / "missing field `id`".
fn key_from_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let key = &message[start..end];
    (message.contains("field") && !key.is_empty()).then(|| key.to_string())
}

/// The `key =` written on the line that holds byte `pos`, if any.
fn key_on_line(text: &str, pos: usize) -> Option<String> {
    let pos = pos.min(text.len());
    let start = text.get(..pos)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

/// 1-based line and character column of byte `pos`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_one_component() {
        assert!(glob("os.exec*", "os.execvp"));
        assert!(glob("subprocess.*", "subprocess.run"));
        assert!(!glob("subprocess.*", "subprocess"));
        assert!(!glob("os.*", "os.path.join"));
        assert!(glob("*.system", "posix.system"));
    }

    #[test]
    fn embedded_sets_parse() {
        Rules::from_toml_str(DEFAULT_RULES, "python.toml")
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e}"));
        Rules::from_toml_str(STRICT_RULES, "strict.toml")
            .map(|_| ())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
