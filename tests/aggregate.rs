//! Sectioned aggregation: parser, template, renderer, structural verification, and real jobs
//! run in the sandbox.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use runcell::aggregate::{Aggregation, Error, Origin, Section, Sections, Template};
use runcell::analyze::{self, Rules};

const B: &str = "###Code Before Loop###\n";
const L: &str = "###Loop Code###\n";
const A: &str = "###Code After For Loop###\n";

/// A sections file from three section bodies.
fn file(before: &str, looped: &str, after: &str) -> String {
    format!("{B}{before}{L}{looped}{A}{after}")
}

/// Parse, expecting an error; returns (message, section, line).
fn reject(text: &str) -> (String, Option<Section>, Option<usize>) {
    match Sections::parse(text).and_then(|s| s.render(&Template::default())) {
        Ok(r) => panic!("accepted:\n{text}\nrendered:\n{}", r.script()),
        Err(e) => (e.to_string(), e.section(), e.line()),
    }
}

fn accept(text: &str) -> runcell::aggregate::Rendered {
    match Sections::parse(text).and_then(|s| s.render(&Template::default())) {
        Ok(r) => r,
        Err(e) => panic!("rejected: {e}\n{text}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Markers

#[test]
fn markers_in_order_with_spaces_crlf_and_header_comments() {
    let text = "# merge job 17\r\n\r\n  ###Code Before Loop###  \r\ntotal = 0\r\n\t###Loop Code###\r\n\
                total += len(content)\r\n###Code After For Loop###\r\nprint(total)\r\n";
    let sections = Sections::parse(text).unwrap();
    assert_eq!(sections.get(Section::Before).first_line(), 4);
    assert_eq!(sections.get(Section::Loop).first_line(), 6);
    assert_eq!(sections.get(Section::After).first_line(), 8);
    assert_eq!(
        sections.get(Section::Loop).source(),
        "total += len(content)\n"
    );
}

#[test]
fn empty_sections_are_allowed() {
    let r = accept(&file("", "", ""));
    assert!(r.script().contains("pass  # runcell: loop section"));
    let r = accept(&file("# nothing\n\n", "", "   \n"));
    assert!(r.script().contains("pass  # runcell: after section"));
}

#[test]
fn missing_marker() {
    let (msg, sec, line) = reject(&format!("{B}x = 1\n{A}print(x)\n"));
    assert_eq!(
        msg,
        "line 3: missing marker `###Loop Code###` (expected by this line)"
    );
    assert_eq!((sec, line), (None, Some(3)));
    let (msg, _, _) = reject(&format!("{B}{L}x = 1\n"));
    assert_eq!(
        msg,
        "line 3: missing marker `###Code After For Loop###` (expected by this line)"
    );
    let (msg, _, _) = reject("print(1)\n");
    assert!(
        msg.starts_with("line 1: missing marker `###Code Before Loop###`"),
        "{msg}"
    );
}

#[test]
fn duplicated_marker() {
    let (msg, _, line) = reject(&format!("{B}x = 1\n{L}{L}{A}"));
    assert_eq!(
        msg,
        "line 4: duplicated marker `###Loop Code###` (first on line 3)"
    );
    assert_eq!(line, Some(4));
}

#[test]
fn misordered_marker() {
    let (msg, _, line) = reject(&format!("{L}x = 1\n{B}{A}"));
    assert_eq!(
        msg,
        "line 1: marker `###Loop Code###` is out of order: expected `###Code Before Loop###` here"
    );
    assert_eq!(line, Some(1));
    let (msg, _, _) = reject(&format!("{B}{A}{L}"));
    assert_eq!(
        msg,
        "line 2: marker `###Code After For Loop###` is out of order: expected `###Loop Code###` here"
    );
}

#[test]
fn near_miss_marker() {
    let (msg, _, line) = reject(&format!("{B}### Loop Code ###\n{A}"));
    assert_eq!(
        msg,
        "line 2: `### Loop Code ###` looks like a marker but is not exactly `###Loop Code###`"
    );
    assert_eq!(line, Some(2));
    // A marker with trailing text is not a marker.
    let (msg, _, _) = reject(&format!("{B}###Loop Code### # go\n{A}"));
    assert!(msg.contains("looks like a marker"), "{msg}");
}

#[test]
fn text_before_first_marker() {
    let (msg, _, line) = reject(&format!("# ok\n\nimport os\n{B}{L}{A}"));
    assert_eq!(
        msg,
        "line 3: text before the first marker `###Code Before Loop###` (only blank lines and \
         comments may come before it)"
    );
    assert_eq!(line, Some(3));
}

// ---------------------------------------------------------------------------------------------
// Characters, syntax, indentation

#[test]
fn forbidden_characters() {
    let (msg, sec, line) = reject(&file("", "x = 1\n\x0cy = 2\n", ""));
    assert_eq!(
        msg,
        "section `Loop Code`, line 4: character U+000C (form feed) is not allowed in a sections file"
    );
    assert_eq!((sec, line), (Some(Section::Loop), Some(4)));
    let (msg, _, _) = reject(&file("x = 1\ry = 2\n", "", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: character U+000D (carriage return not followed by a \
         line feed) is not allowed in a sections file"
    );
    let (msg, _, _) = reject(&file("x = '\0'\n", "", ""));
    assert!(msg.contains("U+0000 (NUL)"), "{msg}");
    let (msg, _, _) = reject(&file("x =\u{a0}1\n", "", ""));
    assert!(msg.contains("U+00A0"), "{msg}");
    let (msg, _, _) = reject(&file("x = 1\u{2028}y = 2\n", "", ""));
    assert!(msg.contains("U+2028 (line separator)"), "{msg}");
    // Non-ASCII text inside strings and comments is fine.
    accept(&file(
        "s = 'naïve\u{a0}café'  # ünïcode\n",
        "",
        "print(s)\n",
    ));
}

#[test]
fn section_must_parse_on_its_own() {
    // A triple-quoted string opened in one section and closed in the next.
    let (msg, sec, line) = reject(&file("x = '''\n", "'''\n", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: the section does not parse as Python on its own: \
         invalid syntax near `x = '''`"
    );
    assert_eq!((sec, line), (Some(Section::Before), Some(2)));
    let (_, sec, line) = reject(&file("x = 1\n", "y = \"\"\"abc\n", "print(1)\n"));
    assert_eq!((sec, line), (Some(Section::Loop), Some(4)));
    // An unterminated bracket, a dangling decorator, a class with its body in the next
    // section.
    let (_, sec, _) = reject(&file("x = (1,\n", "2)\n", ""));
    assert_eq!(sec, Some(Section::Before));
    let (msg, _, _) = reject(&file("@staticmethod\n", "def f(): pass\n", ""));
    assert!(msg.contains("does not parse"), "{msg}");
    let (msg, sec, line) = reject(&file("class A:\n", "    x = 1\n", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: expected an indented block"
    );
    assert_eq!((sec, line), (Some(Section::Before), Some(2)));
    // A marker inside a string splits the string.
    let (msg, _, _) = reject(&format!("{B}s = \"\"\"\n###Loop Code###\n\"\"\"\n{L}{A}"));
    assert_eq!(
        msg,
        "line 5: duplicated marker `###Loop Code###` (first on line 3)"
    );
    let (msg, _, _) = reject(&format!("{B}s = \"\"\"\n{L}\"\"\"\n{A}"));
    assert!(msg.contains("does not parse"), "{msg}");
}

#[test]
fn trailing_backslash() {
    let (msg, sec, line) = reject(&file("x = 1 \\\n", "", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: trailing backslash: the section's last line \
         continues into the template"
    );
    assert_eq!((sec, line), (Some(Section::Before), Some(2)));
    let (msg, _, line) = reject(&file("", "", "x = 1 \\\n\n# bye\n"));
    assert!(msg.contains("trailing backslash"), "{msg}");
    assert_eq!(line, Some(4));
    // A backslash followed by a comment line: CPython and tree-sitter disagree; refused.
    let (msg, _, _) = reject(&file("x = 1 + \\\n# c\n2\n", "", ""));
    assert!(
        msg.contains("a backslash continuation must be followed by a line of code"),
        "{msg}"
    );
    // A backslash at the end of a comment is not a continuation.
    accept(&file("x = 1  # see \\\n", "", ""));
    // A continuation followed by code is fine.
    accept(&file("x = 1 + \\\n    2\n", "", "print(x)\n"));
}

#[test]
fn dedent_below_block() {
    // Mixed tabs and spaces with the same column: CPython's TabError.
    let (msg, sec, line) = reject(&file("", "if True:\n\tx = 1\n        y = 2\n", ""));
    assert_eq!(
        msg,
        "section `Loop Code`, line 5: inconsistent use of tabs and spaces in indentation"
    );
    assert_eq!((sec, line), (Some(Section::Loop), Some(5)));
    let (msg, _, line) = reject(&file("", "if True:\n        x = 1\n    y = 2\n", ""));
    assert_eq!(
        msg,
        "section `Loop Code`, line 5: unindent does not match any outer indentation level"
    );
    assert_eq!(line, Some(5));
    // Indented first line, and indentation that is not a block.
    let (msg, _, _) = reject(&file("    x = 1\n", "", ""));
    assert_eq!(msg, "section `Code Before Loop`, line 2: unexpected indent");
    let (msg, _, _) = reject(&file("x = 1\n    y = 2\n", "", ""));
    assert_eq!(msg, "section `Code Before Loop`, line 3: unexpected indent");
    // Form feed in indentation.
    let (msg, _, _) = reject(&file("", "if True:\n\tx = 1\n\x0c\ty = 2\n", ""));
    assert!(msg.contains("form feed"), "{msg}");
    // Absurd indentation.
    let deep = format!("if True:\n{}x = 1\n", " ".repeat(5000));
    let (msg, _, _) = reject(&file(&deep, "", ""));
    assert!(msg.contains("wider than 1000 columns"), "{msg}");
}

#[test]
fn tabs_are_expanded_like_cpython() {
    let r = accept(&file("", "if True:\n\tx = 1\n\tif x:\n\t\ty = 2\n", ""));
    let script = r.script();
    assert!(
        script.contains("\n        if True:\n                x = 1\n"),
        "{script}"
    );
    assert!(
        script.contains("\n                        y = 2\n"),
        "{script}"
    );
    assert!(!script.contains('\t'));
}

#[test]
fn multiline_strings_are_kept_byte_for_byte() {
    let before = "s = '''first\n\ttab\n  two\n'''\nt = \"a\\\n  b\"\nu = f'''{\n1}\n x'''\n";
    let r = accept(&file(before, "", "print(s, t, u)\n"));
    let script = r.script();
    assert!(
        script.contains("    s = '''first\n\ttab\n  two\n'''\n    t = \"a\\\n  b\"\n"),
        "{script}"
    );
    assert!(script.contains("    u = f'''{\n1}\n x'''\n"), "{script}");
    // Lines inside brackets are re-indented (harmless) and keep their order.
    let r = accept(&file("x = [\n1,\n\t2,\n]\n", "", ""));
    assert!(
        r.script()
            .contains("    x = [\n    1,\n            2,\n    ]\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Smuggling attempts: all refused before anything runs.

fn forbidden(before: &str, looped: &str, after: &str) -> (String, Option<Section>, Option<usize>) {
    let (msg, sec, line) = reject(&file(before, looped, after));
    (msg, sec, line)
}

#[test]
fn placeholder_text_in_a_section() {
    let (msg, sec, line) = forbidden("", "x = 1\n{{after}}\n", "");
    assert_eq!(
        msg,
        "section `Loop Code`, line 4: placeholder text `{{after}}` is not allowed inside a section"
    );
    assert_eq!((sec, line), (Some(Section::Loop), Some(4)));
    let (msg, _, _) = forbidden("s = '{{ loop }}'\n", "", "");
    assert!(msg.contains("placeholder text `{{ loop }}`"), "{msg}");
    let (msg, _, _) = forbidden("", "", "# {{before}}\n");
    assert!(msg.contains("placeholder text"), "{msg}");
}

#[test]
fn return_at_section_level() {
    let (msg, sec, line) = forbidden("", "", "return 5\n");
    assert_eq!(
        msg,
        "section `Code After For Loop`, line 4: `return` is not allowed at section level (it \
         would end the template's function); it is allowed only inside a function the section \
         defines"
    );
    assert_eq!((sec, line), (Some(Section::After), Some(4)));
    let (msg, _, _) = forbidden("x = 1; return\n", "", "");
    assert!(msg.contains("`return` is not allowed"), "{msg}");
    let (msg, _, _) = forbidden("if True:\n    return\n", "", "");
    assert!(msg.contains("line 3: `return`"), "{msg}");
    let (msg, _, _) = forbidden("class K:\n    return 1\n", "", "");
    assert!(msg.contains("`return` is not allowed"), "{msg}");
    accept(&file("def f(x):\n    return x + 1\n", "", "print(f(1))\n"));
}

#[test]
fn yield_and_await_at_section_level() {
    let yield_msg = "`yield` is not allowed at section level, including in comprehensions, \
                     default values and decorators (it would turn the template's function into \
                     a generator that never runs); it is allowed only inside a function the \
                     section defines";
    let (msg, sec, line) = forbidden("", "yield content\n", "");
    assert_eq!(msg, format!("section `Loop Code`, line 3: {yield_msg}"));
    assert_eq!((sec, line), (Some(Section::Loop), Some(3)));
    for before in [
        "x = yield\n",
        "x = (yield from [1])\n",
        "x = [y for y in (yield)]\n",
        "g = ((yield) for y in [1])\n",
        "def f(a=(yield)):\n    pass\n",
        "f = lambda a=(yield): a\n",
        "@(yield)\ndef f():\n    pass\n",
        "def f() -> (yield):\n    pass\n",
        "class K((yield)):\n    pass\n",
        "def f():\n    class K:\n        yield 1\n",
    ] {
        let (msg, _, _) = forbidden(before, "", "");
        assert!(msg.contains(yield_msg), "{before:?}: {msg}");
    }
    // yield inside a function or lambda the section defines is fine.
    accept(&file(
        "def gen():\n    yield 1\n    yield from [2]\nh = lambda: (yield)\n",
        "",
        "print(list(gen()))\n",
    ));
    let (msg, _, _) = forbidden("", "", "await x\n");
    assert_eq!(
        msg,
        "section `Code After For Loop`, line 4: `await` is not allowed at section level; it is \
         allowed only inside an `async def` the section defines"
    );
    let (msg, _, _) = forbidden("", "async for x in y:\n    pass\n", "");
    assert!(
        msg.contains("`async for`, `async with` and async comprehensions"),
        "{msg}"
    );
    let (msg, _, _) = forbidden("x = [a async for a in b]\n", "", "");
    assert!(msg.contains("async comprehensions"), "{msg}");
    accept(&file(
        "async def f():\n    await g()\n    async for x in y:\n        pass\n",
        "",
        "",
    ));
}

#[test]
fn break_and_continue() {
    // Top level of the loop section: allowed, they act on the template's per-file loop.
    accept(&file("", "break\n", ""));
    accept(&file(
        "",
        "if not content:\n    continue\nprint(path)\n",
        "",
    ));
    accept(&file(
        "",
        "try:\n    n = int(content)\nexcept ValueError:\n    continue\n",
        "",
    ));
    accept(&file(
        "",
        "with open(path) as f:\n    if f.read(1) == '#':\n        break\n",
        "",
    ));
    // The user's own loops: ordinary Python, including the `else` of one (which belongs to
    // the template's loop again).
    accept(&file(
        "",
        "for c in content:\n    if c == 'x':\n        continue\n    while True:\n        break\n",
        "",
    ));
    accept(&file(
        "",
        "for c in content:\n    pass\nelse:\n    break\n",
        "",
    ));
    // Before and after sections have no loop of theirs at top level.
    let (msg, sec, line) = forbidden("break\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: `break` is allowed only inside a loop the section \
         itself opens, or at the top level of the loop section (where it acts on the per-file \
         loop)"
    );
    assert_eq!((sec, line), (Some(Section::Before), Some(2)));
    let (msg, _, _) = forbidden("", "", "if True:\n    continue\n");
    assert!(msg.contains("`continue`"), "{msg}");
    let (msg, _, _) = forbidden("", "", "for x in []:\n    pass\nelse:\n    break\n");
    assert!(msg.contains("line 7: `break`"), "{msg}");
    // A def (or class, or lambda) is a new scope, even in the loop section.
    let (msg, _, _) = forbidden("", "def f():\n    break\n", "");
    assert!(msg.contains("`break`"), "{msg}");
    let (msg, _, _) = forbidden("", "for c in content:\n    def f():\n        break\n", "");
    assert!(msg.contains("`break`"), "{msg}");
    let (msg, _, _) = forbidden("", "class C:\n    continue\n", "");
    assert!(msg.contains("`continue`"), "{msg}");
}

#[test]
fn jumps_are_verified_on_the_rendered_script() {
    // A host template whose loop placeholder is inside the per-file loop: fine.
    let good = Template::parse(
        "def main(files):\n    {{before}}\n    for path in files:\n        content = ''\n        \
         {{loop}}\n    {{after}}\n",
    )
    .unwrap();
    let jumps = Sections::parse(&file("", "if path:\n    continue\nbreak\n", "")).unwrap();
    let r = jumps.render(&good).unwrap();
    assert!(
        r.script().contains("            continue\n"),
        "{}",
        r.script()
    );
    // A template whose loop placeholder is in no loop: a top-level jump cannot land anywhere
    // the contract allows, and the rendered script is refused (it would not even compile).
    let no_loop =
        Template::parse("def main(path, content):\n    {{before}}\n    {{loop}}\n    {{after}}\n")
            .unwrap();
    let err = jumps.render(&no_loop).unwrap_err();
    assert_eq!(err.section(), Some(Section::Loop));
    assert!(
        err.to_string()
            .contains("`continue` in the `Loop Code` section is not inside a loop"),
        "{err}"
    );
    // Without jumps that template is fine.
    Sections::parse(&file("", "print(path)\n", ""))
        .unwrap()
        .render(&no_loop)
        .unwrap();
}

#[test]
fn global_and_nonlocal() {
    let (msg, sec, line) = forbidden("global _x\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: `global` is not allowed in a section (it would \
         reach the template's names)"
    );
    assert_eq!((sec, line), (Some(Section::Before), Some(2)));
    let (msg, _, line) = forbidden("def f():\n    nonlocal inputs\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 3: `nonlocal` is not allowed in a section (it would \
         reach the template's names)"
    );
    assert_eq!(line, Some(3));
    let (msg, _, _) = forbidden("def f():\n    global total\n    total = 1\n", "", "");
    assert!(msg.contains("`global`"), "{msg}");
}

#[test]
fn builtins_and_reserved_names() {
    let (msg, _, line) = forbidden("__builtins__ = {}\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: `__builtins__` is not allowed in a section"
    );
    assert_eq!(line, Some(2));
    let (msg, _, _) = forbidden("", "x = __builtins__.open\n", "");
    assert!(msg.contains("`__builtins__`"), "{msg}");
    let (msg, _, _) = forbidden("_runcell_items = iter([])\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: `_runcell_items`: names starting with `_runcell` \
         are reserved for the template"
    );
    // NFKC: CPython reads the fullwidth letter as `r`.
    let (msg, _, _) = forbidden("_\u{ff52}uncell_main = None\n", "", "");
    assert!(msg.contains("are reserved for the template"), "{msg}");
    let (msg, _, _) = forbidden("", "", "print(_runcell_files)\n");
    assert!(msg.contains("reserved"), "{msg}");
    let (msg, _, _) = forbidden("x = inputs._runcell_x\n", "", "");
    assert!(msg.contains("reserved"), "{msg}");
}

#[test]
fn module_level_only_statements() {
    let (msg, _, _) = forbidden("from __future__ import annotations\n", "", "");
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: `from __future__ import` is not allowed in a \
         section (the section runs inside the template, not at the start of a module)"
    );
    let (msg, _, _) = forbidden("from os.path import *\n", "", "");
    assert!(msg.contains("`import *` is not allowed"), "{msg}");
    let (msg, _, _) = forbidden("print 'hello'\n", "", "");
    assert!(msg.contains("Python 2"), "{msg}");
}

#[test]
fn class_and_decorator_bodies_stay_in_their_section() {
    accept(&file(
        "class Acc:\n    def __init__(self):\n        self.n = 0\n@staticmethod\ndef f():\n    pass\n",
        "",
        "",
    ));
    let (msg, _, _) = forbidden("", "class A:\n", "    x = 1\n");
    assert!(msg.contains("expected an indented block"), "{msg}");
    let (msg, _, _) = forbidden("", "@decorate\n", "def f(): pass\n");
    assert!(msg.contains("does not parse"), "{msg}");
    let (msg, sec, _) = forbidden("", "", "    x = 1\n");
    assert!(msg.contains("unexpected indent"), "{msg}");
    assert_eq!(sec, Some(Section::After));
}

#[test]
fn string_tricks_across_sections() {
    // Raw, byte and f-string triple quotes opened in one section.
    for opener in ["r'''", "b\"\"\"", "f'''", "rb'''", "u\"\"\""] {
        let (msg, sec, _) = forbidden(&format!("x = {opener}\n"), "y = 1\n", "");
        assert!(msg.contains("does not parse"), "{opener}: {msg}");
        assert_eq!(sec, Some(Section::Before));
    }
    // A single-quoted string continued with a backslash into the template.
    let (msg, _, _) = forbidden("x = 'abc\\\n", "", "");
    assert!(msg.contains("does not parse"), "{msg}");
    // Closing a string the template never opened.
    let (msg, sec, _) = forbidden("", "'''\nprint(1)\n", "");
    assert!(msg.contains("does not parse"), "{msg}");
    assert_eq!(sec, Some(Section::Loop));
}

// ---------------------------------------------------------------------------------------------
// Static analysis

#[test]
fn analyzer_findings_are_mapped_to_the_sections_file() {
    let rules = Rules::default();
    let snippets = [
        "import os\nos.system('id')\n",
        "import subprocess\nsubprocess.run(['id'])\n",
        "eval('1+1')\n",
        "exec('x = 1')\n",
        "__import__('os').system('id')\n",
        "import ctypes\n",
    ];
    let mut blocking = 0;
    for snippet in snippets {
        let report = analyze::python(snippet, &rules);
        if !report.is_blocking() {
            continue;
        }
        blocking += 1;
        let first = report
            .findings
            .iter()
            .find(|f| f.severity >= analyze::Severity::Warning)
            .unwrap();
        // Put the snippet in the loop section, after two lines of code.
        let text = file("total = 0\n", &format!("x = 1\n\ny = 2\n{snippet}"), "");
        match Sections::parse(&text) {
            Err(Error::Analysis {
                section,
                line,
                findings,
            }) => {
                assert_eq!(section, Section::Loop);
                // The loop section starts on line 4; the snippet on line 7.
                assert_eq!(line, first.line + 6, "{snippet:?}");
                assert_eq!(findings[0].line, first.line + 6);
                assert_eq!(findings[0].column, first.column);
                assert!(
                    findings
                        .iter()
                        .all(|f| f.severity >= analyze::Severity::Warning)
                );
            }
            other => panic!("{snippet:?}: expected an analysis error, got {other:?}"),
        }
    }
    assert!(
        blocking > 0,
        "the default rules flag none of the dangerous snippets"
    );
}

// ---------------------------------------------------------------------------------------------
// Templates

#[test]
fn default_template_is_valid() {
    let t = Template::default();
    assert!(
        t.skeleton()
            .contains("def _runcell_main(inputs, _runcell_items):\n    pass\n")
    );
}

#[test]
fn host_template() {
    let template = Template::parse(
        "import json\nresults = []\n\ndef main(files):\n\t{{before}}\n\tfor path in files:\n\t\t\
         content = path.read_text()\n\t\t{{loop}}\n\t{{after}}\n\nmain([])\n",
    )
    .unwrap();
    let sections = Sections::parse(&file("n = 0\n", "n += 1\n", "print(n)\n")).unwrap();
    let r = sections.render(&template).unwrap();
    assert!(
        r.script().contains(
            "def main(files):\n        pass  # runcell: before section\n        n = 0\n        \
             for path in files:\n"
        ),
        "{}",
        r.script()
    );
    assert!(r.script().contains("                n += 1\n"));
    // Origins map rendered lines back.
    let loop_lines = r.section_lines(Section::Loop);
    assert_eq!(loop_lines.len(), 1);
    assert_eq!(
        r.origin(loop_lines.start),
        Some(Origin::Section {
            section: Section::Loop,
            line: 4
        })
    );
    assert_eq!(r.origin(1), Some(Origin::Header));
    assert_eq!(r.origin(3), Some(Origin::Template { line: 1 }));
}

#[test]
fn template_errors() {
    let err = |t: &str| Template::parse(t).unwrap_err().to_string();
    assert_eq!(
        err("def f():\n    {{before}}\n    {{loop}}\n"),
        "template line 3: placeholder `{{after}}` is missing"
    );
    assert_eq!(
        err("{{before}}\n{{loop}}\n{{after}}\n{{loop}}\n"),
        "template line 4: placeholder `{{loop}}` appears twice (first on line 2)"
    );
    assert_eq!(
        err("{{before}}\nx = 1  # {{loop}}\n{{after}}\n"),
        "template line 2: placeholder `{{loop}}` must be alone on its line"
    );
    assert_eq!(
        err("{{before}}\ns = '''\n{{loop}}\n'''\n{{after}}\n"),
        "template line 3: placeholder `{{loop}}` is not in a statement position (inside a string \
         or bracket, or after a `;`?)"
    );
    let msg = err("{{before}}\n{{loop}}\n{{after}}\ndef (:\n");
    assert!(msg.starts_with("template line 4: column"), "{msg}");
    assert!(msg.contains("not valid Python"), "{msg}");
    let msg = err("if True:\n{{before}}\n{{loop}}\n{{after}}\n");
    assert!(msg.starts_with("template line"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Running jobs in the sandbox

/// A temporary inputs directory the sandbox can read (the test's own files: o+rx / o+r).
fn inputs(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn run(sections: &str, dir: &Path) -> Result<runcell::Outcome, Error> {
    let sections = Sections::parse(sections)?;
    let job = Aggregation::new(&sections, &Template::default())?;
    let sandbox = Aggregation::default_sandbox()?;
    job.run(&sandbox, dir)
}

fn stdout_of(sections: &str, dir: &Path) -> String {
    let outcome = run(sections, dir).unwrap();
    assert_eq!(
        outcome.verdict,
        runcell::Verdict::Ok,
        "stderr: {}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    String::from_utf8(outcome.stdout).unwrap()
}

#[test]
fn job_continue_skips_a_file_and_break_stops_reading() {
    let dir = inputs(&[
        ("1-a", b"1\n"),
        ("2-skip", b"# comment file\n"),
        ("3-b", b"2\n"),
        ("4-stop", b"STOP\n"),
        ("5-never", b"100\n"),
    ]);
    // `continue` skips the rest of the current file; `break` stops reading files; the
    // after-section still runs. A loop of the user's own keeps ordinary semantics.
    let out = stdout_of(
        &file(
            "total = 0\nseen = []\n",
            "seen.append(path.name)\nif content.startswith('#'):\n    continue\n\
             if content.strip() == 'STOP':\n    break\n\
             for line in content.splitlines():\n    if not line:\n        continue\n    \
             total += int(line)\n    break\n",
            "print(total, ','.join(seen))\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "3 1-a,2-skip,3-b,4-stop\n");
    // `break` on the first file: the after-section runs once, with nothing counted.
    let out = stdout_of(
        &file("n = 0\n", "break\nn += 1\n", "print('after', n)\n"),
        dir.path(),
    );
    assert_eq!(out, "after 0\n");
}

#[test]
fn job_sum_of_numbers() {
    let dir = inputs(&[
        ("part-2", b"10\n20\n"),
        ("part-1", b"1\n2\n3\n"),
        ("part-3", b"\n"),
    ]);
    let out = stdout_of(
        &file(
            "total = 0\n",
            "for line in content.splitlines():\n    if line.strip():\n        total += int(line)\n",
            "print(total)\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "36\n");
}

#[test]
fn job_merge_json_objects() {
    let dir = inputs(&[
        ("a.json", br#"{"apple": 2, "pear": 1}"#),
        ("b.json", br#"{"apple": 3, "plum": 5}"#),
    ]);
    let out = stdout_of(
        &file(
            "import json\nmerged = {}\n",
            "for k, v in json.loads(content).items():\n    merged[k] = merged.get(k, 0) + v\n",
            "print(json.dumps(merged, sort_keys=True))\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "{\"apple\": 5, \"pear\": 1, \"plum\": 5}\n");
}

#[test]
fn job_concatenation_in_sorted_order() {
    let dir = inputs(&[("03", b"c"), ("01", b"a"), ("10", b"d"), ("02", b"b")]);
    let out = stdout_of(
        &file(
            "parts = []\nprint(len(inputs), [p.name for p in inputs])\n",
            "parts.append(path.name + '=' + content)\n",
            "print(','.join(parts))\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "4 ['01', '02', '03', '10']\n01=a,02=b,03=c,10=d\n");
}

#[test]
fn job_csv_union_with_header_once() {
    let dir = inputs(&[
        ("node-a.csv", b"id,name\r\n1,ann\r\n2,bob\r\n"),
        ("node-b.csv", b"id,name\r\n3,cy\r\n"),
        ("node-c.csv", b"id,name\r\n"),
    ]);
    let out = stdout_of(
        &file(
            "import csv, io\nheader = None\nrows = []\n",
            "reader = csv.reader(io.StringIO(content))\nfor i, row in enumerate(reader):\n    \
             if i == 0:\n        header = header or row\n    else:\n        rows.append(row)\n",
            "print(','.join(header))\nfor row in rows:\n    print(','.join(row))\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "id,name\n1,ann\n2,bob\n3,cy\n");
}

#[test]
fn zero_inputs_is_an_empty_iteration() {
    let dir = inputs(&[]);
    let out = stdout_of(
        &file(
            "n = 0\nprint('start', len(inputs))\n",
            "n += 1\n",
            "print('files', n)\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "start 0\nfiles 0\n");
}

#[test]
fn content_is_exact_text() {
    let dir = inputs(&[("x", "l1\r\nl2\n\u{e9}".as_bytes())]);
    let out = stdout_of(&file("", "print(repr(content))\n", ""), dir.path());
    assert_eq!(out, "'l1\\r\\nl2\\né'\n");
}

#[test]
fn bad_inputs_are_typed_errors() {
    let sections = file("", "print(path)\n", "");
    // Missing directory.
    let missing = Path::new("/nonexistent/runcell-aggregate-inputs");
    let err = run(&sections, missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "inputs /nonexistent/runcell-aggregate-inputs: does not exist"
    );
    // Not a directory.
    let dir = inputs(&[("f", b"1")]);
    let err = run(&sections, &dir.path().join("f")).unwrap_err();
    assert!(err.to_string().ends_with(": is not a directory"), "{err}");
    // Binary / corrupted file.
    let dir = inputs(&[("good", b"ok"), ("bad", b"ab\xff\xfe")]);
    let err = run(&sections, dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Input { path, reason } if path.ends_with("bad")
            && reason == "is not UTF-8 text (binary or corrupted; first invalid byte at offset 2)"),
        "{err}"
    );
    // A subdirectory.
    let dir = inputs(&[("a", b"1")]);
    fs::create_dir(dir.path().join("sub")).unwrap();
    let err = run(&sections, dir.path()).unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");
    // A symbolic link.
    let dir = inputs(&[("a", b"1")]);
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
    let err = run(&sections, dir.path()).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    // Unreadable by the sandbox (mode 0600 as root: the run has a host uid of its own; 0000
    // otherwise).
    let dir = inputs(&[("secret", b"1")]);
    let mode = if nix_is_root() { 0o600 } else { 0o000 };
    fs::set_permissions(dir.path().join("secret"), fs::Permissions::from_mode(mode)).unwrap();
    let err = run(&sections, dir.path()).unwrap_err();
    assert!(matches!(err, Error::Input { .. }), "{err}");
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_failing_section_is_an_outcome_not_an_error() {
    let dir = inputs(&[("a", b"not a number")]);
    let outcome = run(&file("", "int(content)\n", ""), dir.path()).unwrap();
    assert_eq!(outcome.verdict, runcell::Verdict::ExitNonzero);
    assert!(String::from_utf8_lossy(&outcome.stderr).contains("ValueError"));
}

#[test]
fn sections_cannot_change_the_iteration() {
    // Rebinding the user-facing names does not change which files the loop visits.
    let dir = inputs(&[("a", b"1"), ("b", b"2")]);
    let out = stdout_of(
        &file(
            "inputs = []\npath = None\nseen = []\n",
            "seen.append(path.name)\ncontent = 'x'\n",
            "print(seen)\n",
        ),
        dir.path(),
    );
    assert_eq!(out, "['a', 'b']\n");
}

// ---------------------------------------------------------------------------------------------
// Fuzzer findings (each was accepted by the section checks and then failed the structural
// check; now refused up front).

#[test]
fn fuzz_regressions() {
    let cases = [
        // tree-sitter accepts a plain (not triple-quoted) string spanning lines.
        "###Code Before Loop###\n\"{2 +\n2}\"\n##\n################ode###x\n'''\nt = f\"{1 +\n2}####ode###x\n'''\nt = f\"{1 +\n2}\"\n#r Loop###\n\n###Loop Code###\n\n###Code After For Loop###\n\n",
        // A syntax error that is a hidden node (missing newline) cursors do not visit.
        "###Code Before Loop###\nb###\nasync reo ###C\t\t\t\t\t\t\t\t\t\t\t\n###Loop Code###\n\n###Code After For Loop###\n\n",
        "###Code Before Loop###\nsssssssssssssssssssssss<ssssssssssssssse sssssssss2,sssssssss<sssssssmssssxsssssssss<sssFssss<wssssscellssssssssssssssssssssAss###eCAd ofter For Loop###ssss\n###Loop Code###\n\n###Code After For Loop###\n\n",
    ];
    for case in cases {
        let (msg, sec, _) = reject(case);
        assert_eq!(sec, Some(Section::Before), "{msg}");
        assert!(msg.contains("does not parse"), "{msg}");
    }
    let (msg, _, line) = reject(&file("x = \"{1 +\n2}\"\n", "", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: the section does not parse as Python on its own: a \
         string that is not triple-quoted cannot span lines"
    );
    assert_eq!(line, Some(2));
}

#[test]
fn size_and_depth_limits() {
    let deep = format!("x = {}1{}\n", "(".repeat(1000), ")".repeat(1000));
    let (msg, sec, _) = reject(&file(&deep, "", ""));
    assert_eq!(
        msg,
        "section `Code Before Loop`, line 2: the section does not parse as Python on its own: \
         the code is nested more than 500 levels deep"
    );
    assert_eq!(sec, Some(Section::Before));
    // Many yields nested: still linear, still refused.
    let yields = format!("x = {}1{}\n", "(yield ".repeat(150), ")".repeat(150));
    let (msg, _, _) = reject(&file(&yields, "", ""));
    assert!(msg.contains("`yield` is not allowed"), "{msg}");
    let big = file(&"x = 1\n".repeat(200_000), "", "");
    let err = Sections::parse(&big).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("the sections file is 1200065 bytes; the limit is 1048576"),
        "{err}"
    );
}

/// A name bound in one section and used in another: the sections share one scope when they
/// run, so the analysis must see them together (each section alone looks harmless).
#[test]
fn dangerous_use_split_across_sections_is_refused() {
    let cases: [(&str, &str, &str, Section, usize); 5] = [
        // (before, loop, after, section of the finding, line of the finding)
        ("import os\n", "os.system('id')\n", "", Section::Loop, 4),
        (
            "import subprocess as sp\n",
            "",
            "sp.run(['id'])\n",
            Section::After,
            5,
        ),
        (
            "import os\nrun = os.system\n",
            "n = 1\n",
            "run('id')\n",
            Section::Before,
            3,
        ),
        (
            "name = 'sys' + 'tem'\n",
            "import os\n",
            "getattr(os, name)('id')\n",
            Section::After,
            6,
        ),
        (
            "b = __builtins__ if False else None\n",
            "",
            "",
            Section::Before,
            2,
        ),
    ];
    for (before, looped, after, section, line) in cases {
        let text = file(before, looped, after);
        match Sections::parse(&text) {
            Err(Error::Analysis {
                section: s,
                line: l,
                findings,
            }) => {
                assert_eq!(s, section, "{text}");
                assert_eq!(l, line, "{text}");
                assert_eq!(findings[0].line, line);
            }
            // `__builtins__` is refused by the section rules before analysis.
            Err(Error::Forbidden { section: s, .. }) if section == Section::Before => {
                assert_eq!(s, Section::Before);
            }
            other => panic!("expected a refusal for\n{text}\ngot {other:?}"),
        }
    }
    // Benign cross-section use stays accepted.
    accept(&file(
        "import json\ntotal = {}\n",
        "for k, v in json.loads(content).items():\n    total[k] = total.get(k, 0) + v\n",
        "print(json.dumps(total, sort_keys=True))\n",
    ));
}

#[test]
fn importing_the_builtins_module_is_refused() {
    for before in [
        "import builtins\nbuiltins.sorted = lambda x: x\n",
        "import builtins as b\n",
        "from builtins import print as p\n",
        "import __builtin__\n",
    ] {
        let (msg, section, line) = reject(&file(before, "", ""));
        assert!(msg.contains("builtins module"), "{before}: {msg}");
        assert_eq!(section, Some(Section::Before));
        assert_eq!(line, Some(2));
    }
    // A variable that happens to be called `builtins` is fine.
    accept(&file("builtins = 3\n", "", "print(builtins)\n"));
}

/// Inputs inside a private (0700) temp dir — what every temp-dir API makes — as root and as an
/// unprivileged host, several aggregations on one Sandbox (per-run mounts: no rebuild).
#[test]
fn inputs_inside_a_private_temp_dir() {
    fn job() {
        let private = tempfile::tempdir().unwrap();
        // What mkdtemp makes (tempfile may leave it to the umask): only the host user enters.
        fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let sandbox = Aggregation::default_sandbox().unwrap();
        for round in 0..3 {
            let dir = private.path().join(format!("in-{round}"));
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
            for (name, n) in [("a", 1), ("b", round)] {
                fs::write(dir.join(name), format!("{n}\n")).unwrap();
                fs::set_permissions(dir.join(name), fs::Permissions::from_mode(0o644)).unwrap();
            }
            let sections = Sections::parse(&file(
                "total = 0\n",
                "total += int(content)\n",
                "print(total)\n",
            ))
            .unwrap();
            let outcome = Aggregation::new(&sections, &Template::default())
                .unwrap()
                .run(&sandbox, &dir)
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&outcome.stdout),
                format!("{}\n", 1 + round),
                "{}",
                String::from_utf8_lossy(&outcome.stderr)
            );
        }
    }
    if std::env::var_os("RUNCELL_AGG_UNPRIV").is_some() {
        // SAFETY: a single-threaded child test process (one test, --test-threads=1).
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
                assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
                assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
            }
        }
        job();
        println!("AGG-UNPRIV-OK");
        return;
    }
    job();
    // SAFETY: a plain getter.
    if unsafe { libc::geteuid() } == 0 {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "inputs_inside_a_private_temp_dir",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RUNCELL_AGG_UNPRIV", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("AGG-UNPRIV-OK"),
            "{text}"
        );
    }
}
