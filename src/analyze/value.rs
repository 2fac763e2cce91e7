//! Abstract values: what the resolver knows about an expression without running it.
//!
//! The analyzer never executes code; it tracks just enough to see through renaming and
//! runtime-built names: constants (strings, bytes, integers, lists of them), objects reached
//! by a dotted path from a module (`os.system`, `builtins.eval`), name-space views
//! (`globals()`, `vars(os)`), and user functions and classes. Everything else is `Unknown`.

use super::scope::{FuncId, ScopeId};
use std::rc::Rc;

/// Longest string or byte constant the folder builds; longer results become `Unknown` so
/// that `'a' * 10**9` or a doubling loop cannot exhaust memory.
pub const MAX_CONST_LEN: usize = 4096;

/// Longest list (or dict) constant kept: long enough for any name spelled as character
/// codes, short enough that copying a value stays cheap (`dp = [0] * 4000` is `Unknown`).
pub const MAX_LIST_LEN: usize = 512;

/// Most alternatives one expression may carry (flow-insensitive unions are capped here).
pub const MAX_ALTERNATIVES: usize = 8;

/// What a name-space view (`globals()`, `vars(x)`, `x.__dict__`) looks into.
#[derive(Debug, Clone, PartialEq)]
pub enum Namespace {
    /// The bindings of one scope of the analyzed file (`globals()`, `locals()`).
    Scope(ScopeId),
    /// The attributes of a module or object reached by a dotted path (`vars(os)`).
    Path(String),
}

/// One possible value of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing is known.
    Unknown,
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A text constant.
    Str(String),
    /// A bytes constant.
    Bytes(Vec<u8>),
    /// A list or tuple; each element is known only when it has exactly one value.
    List(Vec<Value>),
    /// A module, or an object reached from one by attribute access: `os`, `os.system`,
    /// `builtins.eval`, `sys.modules`.
    Path(String),
    /// A dict-like view of names.
    Namespace(Namespace),
    /// A function or lambda defined in the analyzed file.
    Func(FuncId),
    /// A class defined in the analyzed file (its body is a scope).
    Class(ScopeId),
    /// An instance of such a class (attributes are looked up in the class body).
    Instance(ScopeId),
    /// A dict literal with constant keys.
    Dict(Vec<(Value, Value)>),
    /// A bound method of a constant receiver, e.g. `''.join` or `b'..'.decode`.
    Method(Box<Value>, String),
}

impl Value {
    /// The text of a string constant.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The dotted path of a module or module attribute.
    pub fn as_path(&self) -> Option<&str> {
        match self {
            Value::Path(p) => Some(p),
            _ => None,
        }
    }

    /// Python's `str()` of a constant, when it is a constant.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Bool(true) => Some("True".into()),
            Value::Bool(false) => Some("False".into()),
            Value::None => Some("None".into()),
            _ => None,
        }
    }

    /// Python truthiness of a constant (`None` when unknown).
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            Value::None => Some(false),
            Value::Str(s) => Some(!s.is_empty()),
            Value::Bytes(b) => Some(!b.is_empty()),
            Value::List(l) => Some(!l.is_empty()),
            _ => None,
        }
    }

    /// Elements when iterated: list items, or the characters of a string.
    pub fn elements(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(items) => Some(items.clone()),
            Value::Str(s) if s.chars().count() <= MAX_CONST_LEN => {
                Some(s.chars().map(|c| Value::Str(c.to_string())).collect())
            }
            Value::Bytes(b) => Some(b.iter().map(|&x| Value::Int(i64::from(x))).collect()),
            _ => None,
        }
    }

    /// A string or bytes constant longer than the cap becomes `Unknown`.
    pub fn capped(self) -> Value {
        match &self {
            Value::Str(s) if s.len() > MAX_CONST_LEN => Value::Unknown,
            Value::Bytes(b) if b.len() > MAX_CONST_LEN => Value::Unknown,
            Value::List(l) if l.len() > MAX_LIST_LEN => Value::Unknown,
            Value::Dict(d) if d.len() > MAX_LIST_LEN => Value::Unknown,
            _ => self,
        }
    }
}

/// The set of values an expression may have (a small, de-duplicated, capped list).
///
/// Shared, copied on write: a variable's values are handed out at every use of its name
/// (up to [`MAX_ALTERNATIVES`] strings and lists each), and a clone is a reference count.
/// The empty set holds nothing (never `Some` of an empty list).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValSet(Option<Rc<Vec<Value>>>);

impl ValSet {
    /// The empty set (nothing known to reach here yet).
    pub fn empty() -> Self {
        ValSet(None)
    }

    /// A set with one value.
    pub fn one(v: Value) -> Self {
        if matches!(v, Value::Unknown) {
            return ValSet::unknown();
        }
        ValSet(Some(Rc::new(vec![v.capped()])))
    }

    /// `{Unknown}`: the most common value of all, one shared list per thread (a clone is a
    /// reference count; a write copies it, as for any shared set).
    pub fn unknown() -> Self {
        thread_local! {
            static UNKNOWN: ValSet = ValSet(Some(Rc::new(vec![Value::Unknown])));
        }
        UNKNOWN.with(ValSet::clone)
    }

    fn values(&self) -> &[Value] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Adds a value unless present or the set is full; returns whether it changed.
    pub fn push(&mut self, v: Value) -> bool {
        let v = v.capped();
        let current = self.values();
        if current.contains(&v) {
            return false;
        }
        if current.len() >= MAX_ALTERNATIVES {
            // Too many alternatives: the rest is unknown (never silently dropped, so a
            // ninth, dangerous value cannot hide behind eight harmless ones).
            if current.contains(&Value::Unknown) {
                return false;
            }
            if let Some(rc) = self.0.as_mut() {
                Rc::make_mut(rc)[MAX_ALTERNATIVES - 1] = Value::Unknown;
            }
            return true;
        }
        match self.0.as_mut() {
            Some(rc) => Rc::make_mut(rc).push(v),
            None if matches!(v, Value::Unknown) => *self = ValSet::unknown(),
            None => self.0 = Some(Rc::new(vec![v])),
        }
        true
    }

    /// Adds every value of `other`; returns whether anything changed.
    pub fn extend(&mut self, other: ValSet) -> bool {
        if self.0.is_none() {
            // Into an empty set: `other` as it is (already de-duplicated and capped).
            let changed = other.0.is_some();
            self.0 = other.0;
            return changed;
        }
        let mut changed = false;
        for v in other.values() {
            changed |= self.push(v.clone());
        }
        changed
    }

    /// The values.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.values().iter()
    }

    /// True when nothing is known to reach here.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The single value, when there is exactly one.
    pub fn single(&self) -> Option<&Value> {
        match self.values() {
            [v] => Some(v),
            _ => None,
        }
    }

    /// Every string constant in the set.
    pub fn strings(&self) -> impl Iterator<Item = &str> {
        self.values().iter().filter_map(Value::as_str)
    }

    /// Every dotted path in the set.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.values().iter().filter_map(Value::as_path)
    }

    /// Applies `f` to every value and unions the results.
    pub fn flat_map(&self, mut f: impl FnMut(&Value) -> ValSet) -> ValSet {
        let mut out = ValSet::empty();
        for v in self.values() {
            out.extend(f(v));
        }
        out
    }
}

impl FromIterator<Value> for ValSet {
    fn from_iter<T: IntoIterator<Item = Value>>(iter: T) -> Self {
        let mut s = ValSet::empty();
        for v in iter {
            s.push(v);
        }
        s
    }
}
