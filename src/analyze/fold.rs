//! Constant folding: the pure operations that turn runtime-built names back into text.
//!
//! Each helper mirrors one Python operation on constants (string literals with escapes,
//! `+`, `*`, `%`, `.format`, slices, `chr`, `bytes.fromhex`, base64, rot13, `os.path.join`)
//! and returns `None` when the result is not a constant the analyzer can know. None of them
//! can panic or allocate without bound: results longer than [`MAX_CONST_LEN`] are refused.

use super::value::{MAX_CONST_LEN, Value};
use base64::Engine;

/// Parses a Python integer literal (`10`, `0x1f`, `0o17`, `0b101`, `1_000`).
pub fn parse_int(text: &str) -> Option<i64> {
    let t: String = text.chars().filter(|&c| c != '_').collect();
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = if let Some(r) = lower.strip_prefix("0x") {
        (r, 16)
    } else if let Some(r) = lower.strip_prefix("0o") {
        (r, 8)
    } else if let Some(r) = lower.strip_prefix("0b") {
        (r, 2)
    } else {
        (lower.as_str(), 10)
    };
    i64::from_str_radix(digits, radix).ok()
}

/// The prefix letters of a string literal (`rb`, `f`, ...), lower-cased.
pub fn literal_prefix(start: &str) -> String {
    start
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Decodes the escapes of one piece of a non-raw literal. `bytes` literals do not know
/// `\u`, `\U` or `\N`; f-strings turn `{{`/`}}` into braces.
pub fn unescape(raw: &str, bytes: bool, fstring: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if fstring && (c == '{' || c == '}') && chars.peek() == Some(&c) {
            chars.next();
            out.push(c);
            continue;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                push_code(&mut out, v);
            }
            'x' => hex_escape(&mut out, &mut chars, 2, 'x'),
            'u' if !bytes => hex_escape(&mut out, &mut chars, 4, 'u'),
            'U' if !bytes => hex_escape(&mut out, &mut chars, 8, 'U'),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

fn hex_escape(
    out: &mut String,
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    n: usize,
    letter: char,
) {
    let mut digits = String::new();
    for _ in 0..n {
        match chars.peek() {
            Some(d) if d.is_ascii_hexdigit() => {
                digits.push(*d);
                chars.next();
            }
            _ => break,
        }
    }
    match u32::from_str_radix(&digits, 16) {
        Ok(v) if digits.len() == n => push_code(out, v),
        _ => {
            out.push('\\');
            out.push(letter);
            out.push_str(&digits);
        }
    }
}

fn push_code(out: &mut String, v: u32) {
    if let Some(ch) = char::from_u32(v) {
        out.push(ch);
    }
}

/// Turns the text of a bytes literal (already unescaped to code points < 256) into bytes.
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect()
}

/// `a + b` for constants.
pub fn add(a: &Value, b: &Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Str(x), Value::Str(y)) => Value::Str(bounded_concat(x, y)?),
        (Value::Bytes(x), Value::Bytes(y)) => {
            if x.len() + y.len() > MAX_CONST_LEN {
                return None;
            }
            let mut v = x.clone();
            v.extend_from_slice(y);
            Value::Bytes(v)
        }
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_add(*y)?),
        (Value::List(x), Value::List(y)) => {
            if x.len() + y.len() > MAX_CONST_LEN {
                return None;
            }
            let mut v = x.clone();
            v.extend(y.iter().cloned());
            Value::List(v)
        }
        _ => return None,
    })
}

fn bounded_concat(x: &str, y: &str) -> Option<String> {
    if x.len() + y.len() > MAX_CONST_LEN {
        return None;
    }
    let mut s = String::with_capacity(x.len() + y.len());
    s.push_str(x);
    s.push_str(y);
    Some(s)
}

/// Integer and sequence arithmetic other than `+` and `%`.
pub fn binary(op: &str, a: &Value, b: &Value) -> Option<Value> {
    if op == "+" {
        return add(a, b);
    }
    if let ("%", Value::Str(fmt)) = (op, a) {
        return percent_format(fmt, b).map(Value::Str);
    }
    // Paths are folded to text (`pathlib.Path(...)` is its string), so `/` on two texts is
    // a path join: `Path.home() / ".ssh"` is `~/.ssh` (two real strings cannot be divided).
    if let ("/", Value::Str(x), Value::Str(y)) = (op, a, b) {
        if y.starts_with('/') {
            return Some(Value::Str(y.clone()));
        }
        return Some(Value::Str(format!("{}/{y}", x.trim_end_matches('/'))));
    }
    if op == "*" {
        match (a, b) {
            (Value::Str(s), Value::Int(n)) | (Value::Int(n), Value::Str(s)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                if s.len().saturating_mul(n) > MAX_CONST_LEN {
                    return None;
                }
                return Some(Value::Str(s.repeat(n)));
            }
            (Value::List(l), Value::Int(n)) | (Value::Int(n), Value::List(l)) => {
                let n = usize::try_from(*n).unwrap_or(0);
                if l.len().saturating_mul(n) > MAX_CONST_LEN {
                    return None;
                }
                let mut out = Vec::new();
                for _ in 0..n {
                    out.extend(l.iter().cloned());
                }
                return Some(Value::List(out));
            }
            _ => {}
        }
    }
    let (Value::Int(x), Value::Int(y)) = (int_like(a)?, int_like(b)?) else {
        return None;
    };
    let (x, y) = (x, y);
    Some(Value::Int(match op {
        "-" => x.checked_sub(y)?,
        "*" => x.checked_mul(y)?,
        "//" => {
            if y == 0 {
                return None;
            }
            x.checked_div_euclid(y)?
        }
        "%" => {
            if y == 0 {
                return None;
            }
            x.checked_rem_euclid(y)?
        }
        "**" => x.checked_pow(u32::try_from(y).ok()?)?,
        "^" => x ^ y,
        "|" => x | y,
        "&" => x & y,
        "<<" => x.checked_shl(u32::try_from(y).ok()?)?,
        ">>" => x.checked_shr(u32::try_from(y).ok()?)?,
        _ => return None,
    }))
}

fn int_like(v: &Value) -> Option<Value> {
    match v {
        Value::Int(i) => Some(Value::Int(*i)),
        Value::Bool(b) => Some(Value::Int(i64::from(*b))),
        _ => None,
    }
}

/// `-x`, `+x`, `~x` for integers.
pub fn unary(op: &str, a: &Value) -> Option<Value> {
    let Value::Int(x) = int_like(a)? else {
        return None;
    };
    Some(Value::Int(match op {
        "-" => x.checked_neg()?,
        "+" => x,
        "~" => !x,
        _ => return None,
    }))
}

/// `chr(n)`.
pub fn chr(v: &Value) -> Option<Value> {
    let Value::Int(n) = int_like(v)? else {
        return None;
    };
    let c = char::from_u32(u32::try_from(n).ok()?)?;
    Some(Value::Str(c.to_string()))
}

/// `ord(c)`.
pub fn ord(v: &Value) -> Option<Value> {
    let s = v.as_str()?;
    let mut it = s.chars();
    let c = it.next()?;
    if it.next().is_some() {
        return None;
    }
    Some(Value::Int(i64::from(u32::from(c))))
}

/// Python slicing `seq[start:stop:step]` on a string, bytes or list constant.
pub fn slice(v: &Value, start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Option<Value> {
    match v {
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            let idx = slice_indices(chars.len(), start, stop, step)?;
            Some(Value::Str(
                idx.into_iter().filter_map(|i| chars.get(i)).collect(),
            ))
        }
        Value::Bytes(b) => {
            let idx = slice_indices(b.len(), start, stop, step)?;
            Some(Value::Bytes(
                idx.into_iter().filter_map(|i| b.get(i).copied()).collect(),
            ))
        }
        Value::List(l) => {
            let idx = slice_indices(l.len(), start, stop, step)?;
            Some(Value::List(
                idx.into_iter().filter_map(|i| l.get(i).cloned()).collect(),
            ))
        }
        _ => None,
    }
}

fn slice_indices(
    len: usize,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> Option<Vec<usize>> {
    let len = i64::try_from(len).ok()?;
    let step = step.unwrap_or(1);
    if step == 0 {
        return None;
    }
    let clamp = |v: i64, lo: i64, hi: i64| v.max(lo).min(hi);
    let norm = |v: i64| if v < 0 { v.saturating_add(len) } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let s = start.map_or(0, |v| clamp(norm(v), 0, len));
        let e = stop.map_or(len, |v| clamp(norm(v), 0, len));
        let mut i = s;
        while i < e {
            out.push(usize::try_from(i).ok()?);
            i = i.checked_add(step)?;
        }
    } else {
        let s = start.map_or(len - 1, |v| clamp(norm(v), -1, len - 1));
        let e = stop.map_or(-1, |v| clamp(norm(v), -1, len - 1));
        let mut i = s;
        while i > e {
            out.push(usize::try_from(i).ok()?);
            i = i.checked_add(step)?;
        }
    }
    Some(out)
}

/// Indexing `seq[i]` with Python's negative indices.
pub fn index(v: &Value, i: i64) -> Option<Value> {
    let pick = |len: usize| -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let j = if i < 0 { i + len } else { i };
        if (0..len).contains(&j) {
            usize::try_from(j).ok()
        } else {
            None
        }
    };
    match v {
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Some(Value::Str(chars.get(pick(chars.len())?)?.to_string()))
        }
        Value::Bytes(b) => Some(Value::Int(i64::from(*b.get(pick(b.len())?)?))),
        Value::List(l) => l.get(pick(l.len())?).cloned(),
        _ => None,
    }
}

/// `fmt % args` with `%s`, `%d`, `%i`, `%c`, `%x`, `%o`, `%%` (no width or flags).
pub fn percent_format(fmt: &str, args: &Value) -> Option<String> {
    let args: Vec<Value> = match args {
        Value::List(l) => l.clone(),
        other => vec![other.clone()],
    };
    let mut it = args.iter();
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars.next()?;
        let piece = match spec {
            '%' => "%".to_string(),
            's' => it.next()?.to_text()?,
            'd' | 'i' => match int_like(it.next()?)? {
                Value::Int(i) => i.to_string(),
                _ => return None,
            },
            'c' => match it.next()? {
                Value::Str(s) if s.chars().count() == 1 => s.clone(),
                v => chr(v)?.as_str()?.to_string(),
            },
            'x' | 'o' => match int_like(it.next()?)? {
                Value::Int(i) if spec == 'x' => format!("{i:x}"),
                Value::Int(i) => format!("{i:o}"),
                _ => return None,
            },
            _ => return None,
        };
        out.push_str(&piece);
        if out.len() > MAX_CONST_LEN {
            return None;
        }
    }
    Some(out)
}

/// `fmt.format(*args, **kwargs)` for plain `{}`, `{0}` and `{name}` fields (no specs).
pub fn brace_format(fmt: &str, args: &[Value], kwargs: &[(String, Value)]) -> Option<String> {
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next()? {
                        '}' => break,
                        ch => field.push(ch),
                    }
                }
                let (name, conv) = match field.split_once('!') {
                    Some((n, c)) => (n.to_string(), Some(c.to_string())),
                    None => (field.clone(), None),
                };
                if conv.as_deref().is_some_and(|c| c != "s") || name.contains(':') {
                    return None;
                }
                let v = if name.is_empty() {
                    auto += 1;
                    args.get(auto - 1)?
                } else if let Ok(i) = name.parse::<usize>() {
                    args.get(i)?
                } else {
                    &kwargs.iter().find(|(k, _)| *k == name)?.1
                };
                out.push_str(&v.to_text()?);
                if out.len() > MAX_CONST_LEN {
                    return None;
                }
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

/// `bytes.fromhex(s)` / `binascii.unhexlify(s)`.
pub fn from_hex(v: &Value) -> Option<Value> {
    let text: String = match v {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => return None,
    };
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        let s = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(s, 16).ok()?);
    }
    Some(Value::Bytes(out))
}

/// `base64.b64decode` and friends (standard and URL-safe alphabets, padding optional).
pub fn b64decode(v: &Value, urlsafe: bool) -> Option<Value> {
    let input: Vec<u8> = match v {
        Value::Str(s) => s.bytes().filter(|b| !b.is_ascii_whitespace()).collect(),
        Value::Bytes(b) => b
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
        _ => return None,
    };
    let trimmed: Vec<u8> = input.iter().copied().filter(|&b| b != b'=').collect();
    let engines = if urlsafe {
        [
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ]
    } else {
        [
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ]
    };
    engines
        .iter()
        .find_map(|e| e.decode(&trimmed).ok())
        .map(Value::Bytes)
}

/// `base64.b32decode`.
pub fn b32decode(v: &Value) -> Option<Value> {
    let text = match v {
        Value::Str(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => return None,
    };
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::new();
    for c in text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
    {
        let v = ALPHA.iter().position(|&a| a == c.to_ascii_uppercase())?;
        bits = (bits << 5) | v as u64;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push(((bits >> nbits) & 0xff) as u8);
        }
        bits &= (1u64 << nbits) - 1;
    }
    Some(Value::Bytes(out))
}

/// `bytes.decode()` (UTF-8, Latin-1 fallback for invalid sequences).
pub fn decode(v: &Value) -> Option<Value> {
    match v {
        Value::Bytes(b) => Some(Value::Str(match std::str::from_utf8(b) {
            Ok(s) => s.to_string(),
            Err(_) => b.iter().map(|&x| char::from(x)).collect(),
        })),
        Value::Str(s) => Some(Value::Str(s.clone())),
        _ => None,
    }
}

/// `str.encode()`.
pub fn encode(v: &Value) -> Option<Value> {
    match v {
        Value::Str(s) => Some(Value::Bytes(s.as_bytes().to_vec())),
        Value::Bytes(b) => Some(Value::Bytes(b.clone())),
        _ => None,
    }
}

/// `bytes([..])` / `bytearray([..])` of a list of small integers, or of a string+encoding.
pub fn bytes_of(v: &Value) -> Option<Value> {
    match v {
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match int_like(it)? {
                    Value::Int(i) => out.push(u8::try_from(i).ok()?),
                    _ => return None,
                }
            }
            Some(Value::Bytes(out))
        }
        Value::Str(s) => Some(Value::Bytes(s.as_bytes().to_vec())),
        Value::Bytes(b) => Some(Value::Bytes(b.clone())),
        _ => None,
    }
}

/// `codecs.decode(s, 'rot13')` and `codecs.decode(s, 'hex'|'base64')`.
pub fn codecs_decode(v: &Value, codec: &str) -> Option<Value> {
    let codec = codec.to_ascii_lowercase().replace(['-', '_'], "");
    match codec.as_str() {
        "rot13" => {
            let s = v.as_str()?;
            Some(Value::Str(
                s.chars()
                    .map(|c| match c {
                        'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
                        'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
                        _ => c,
                    })
                    .collect(),
            ))
        }
        "hex" | "hexcodec" => from_hex(v),
        "base64" | "base64codec" => b64decode(v, false),
        "utf8" | "ascii" | "latin1" => decode(v),
        _ => None,
    }
}

/// `str.join(items)` when every item is a string constant.
pub fn join(sep: &Value, items: &Value) -> Option<Value> {
    let parts = items.elements()?;
    match sep {
        Value::Str(sep) => {
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                out.push_str(p.as_str()?);
                if out.len() > MAX_CONST_LEN {
                    return None;
                }
            }
            Some(Value::Str(out))
        }
        Value::Bytes(sep) => {
            let mut out = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(sep);
                }
                match p {
                    Value::Bytes(b) => out.extend_from_slice(b),
                    _ => return None,
                }
                if out.len() > MAX_CONST_LEN {
                    return None;
                }
            }
            Some(Value::Bytes(out))
        }
        _ => None,
    }
}

/// The string methods that keep a name recognisable (`upper`, `replace`, `strip`, ...).
pub fn str_method(recv: &Value, name: &str, args: &[Value]) -> Option<Value> {
    if let Value::Bytes(b) = recv {
        return match name {
            "decode" => decode(recv),
            "hex" => Some(Value::Str(b.iter().map(|x| format!("{x:02x}")).collect())),
            _ => {
                let s = Value::Str(b.iter().map(|&x| char::from(x)).collect());
                match str_method(&s, name, args)? {
                    Value::Str(r) => Some(Value::Bytes(latin1_bytes(&r))),
                    other => Some(other),
                }
            }
        };
    }
    let s = recv.as_str()?;
    let arg_str = |i: usize| args.get(i).and_then(Value::as_str);
    Some(match name {
        "join" => return join(recv, args.first()?),
        "format" => return brace_format(s, args, &[]).map(Value::Str),
        "encode" => return encode(recv),
        "upper" => Value::Str(s.to_uppercase()),
        "lower" | "casefold" => Value::Str(s.to_lowercase()),
        "strip" => Value::Str(match arg_str(0) {
            Some(cs) => s.trim_matches(|c| cs.contains(c)).to_string(),
            None => s.trim().to_string(),
        }),
        "lstrip" => Value::Str(match arg_str(0) {
            Some(cs) => s.trim_start_matches(|c| cs.contains(c)).to_string(),
            None => s.trim_start().to_string(),
        }),
        "rstrip" => Value::Str(match arg_str(0) {
            Some(cs) => s.trim_end_matches(|c| cs.contains(c)).to_string(),
            None => s.trim_end().to_string(),
        }),
        "replace" => {
            let (from, to) = (arg_str(0)?, arg_str(1)?);
            if from.is_empty() {
                return None;
            }
            let r = s.replace(from, to);
            if r.len() > MAX_CONST_LEN {
                return None;
            }
            Value::Str(r)
        }
        "removeprefix" => Value::Str(s.strip_prefix(arg_str(0)?).unwrap_or(s).to_string()),
        "removesuffix" => Value::Str(s.strip_suffix(arg_str(0)?).unwrap_or(s).to_string()),
        "title" | "capitalize" => {
            let mut c = s.chars();
            match c.next() {
                Some(f) => Value::Str(
                    f.to_uppercase()
                        .chain(c.flat_map(char::to_lowercase))
                        .collect(),
                ),
                None => Value::Str(String::new()),
            }
        }
        "swapcase" => Value::Str(
            s.chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        ),
        "split" => {
            let parts: Vec<Value> = match arg_str(0) {
                Some(sep) if !sep.is_empty() => {
                    s.split(sep).map(|p| Value::Str(p.into())).collect()
                }
                _ => s.split_whitespace().map(|p| Value::Str(p.into())).collect(),
            };
            Value::List(parts)
        }
        _ => return None,
    })
}

/// `os.path.join(a, b, ...)` on POSIX.
pub fn path_join(parts: &[Value]) -> Option<Value> {
    let mut out = String::new();
    for p in parts {
        let p = p.as_str()?;
        if p.starts_with('/') {
            out = p.to_string();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(p);
        } else {
            out.push('/');
            out.push_str(p);
        }
        if out.len() > MAX_CONST_LEN {
            return None;
        }
    }
    Some(Value::Str(out))
}

/// Normalises a path for prefix matching: collapses `//` and `.`, resolves `..` of absolute
/// paths lexically (`/tmp/../etc/passwd` is `/etc/passwd`).
pub fn normalize_path(p: &str) -> String {
    let p = p.trim();
    // Windows spellings of the same places: `C:\\Users\\x` is `/Users/x`, `%APPDATA%\\x`
    // and `%USERPROFILE%\\x` are under the home directory (`~/x`).
    let windows = windows_path(p);
    let p = windows.as_deref().unwrap_or(p);
    if !p.starts_with('/') {
        return p.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::from("/");
    out.push_str(&parts.join("/"));
    if p.ends_with('/') && out.len() > 1 {
        out.push('/');
    }
    out
}

/// A Windows path rewritten with `/` and without its drive, or `None` for other text.
fn windows_path(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let drive =
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    if drive {
        return Some(p[2..].replace('\\', "/"));
    }
    let upper = p.to_ascii_uppercase();
    for var in [
        "%APPDATA%",
        "%LOCALAPPDATA%",
        "%USERPROFILE%",
        "%HOMEPATH%",
        "$HOME",
        "${HOME}",
    ] {
        if upper.starts_with(var) {
            return Some(format!("~{}", &p[var.len()..]).replace('\\', "/"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn slices_like_python() {
        assert_eq!(slice(&s("metsys"), None, None, Some(-1)), Some(s("system")));
        assert_eq!(
            slice(&s("abcdef"), Some(1), Some(-1), Some(2)),
            Some(s("bd"))
        );
        assert_eq!(slice(&s("abc"), Some(-10), Some(10), None), Some(s("abc")));
        assert_eq!(slice(&s("abc"), None, None, Some(0)), None);
    }

    #[test]
    fn escapes_and_formats() {
        assert_eq!(unescape(r"\x6f\163\u0041\N", false, false), "osA\\N");
        assert_eq!(
            percent_format("%s%s", &Value::List(vec![s("o"), s("s")])),
            Some("os".into())
        );
        assert_eq!(
            percent_format("%c%c", &Value::List(vec![Value::Int(111), Value::Int(115)])),
            Some("os".into())
        );
        assert_eq!(
            brace_format("{}{}", &[s("o"), s("s")], &[]),
            Some("os".into())
        );
        assert_eq!(
            brace_format("{1}{0}", &[s("s"), s("o")], &[]),
            Some("os".into())
        );
    }

    #[test]
    fn decoders() {
        assert_eq!(
            b64decode(&s("b3M="), false).and_then(|v| decode(&v)),
            Some(s("os"))
        );
        assert_eq!(from_hex(&s("6f73")).and_then(|v| decode(&v)), Some(s("os")));
        assert_eq!(codecs_decode(&s("flfgrz"), "rot_13"), Some(s("system")));
        assert_eq!(
            b32decode(&s("N5ZQ====")).and_then(|v| decode(&v)),
            Some(s("os"))
        );
        assert_eq!(normalize_path("/tmp/../etc//passwd"), "/etc/passwd");
        assert_eq!(parse_int("0x_1f"), Some(31));
    }
}
