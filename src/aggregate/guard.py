# runcell aggregate: in-sandbox guard. Runs before any section code, in the same interpreter that
# will run the job, and repeats the structural check with CPython's own parser: the sections'
# statements sit in their placeholders' blocks, and without them the script is exactly the
# template skeleton. Only then is the rendered script executed, in a fresh namespace.
def _runcell_guard(script, skeleton, spans):
    import ast

    def fail(line, message):
        import sys
        sys.stderr.write("runcell-guard: %d: %s\n" % (line, message))
        raise SystemExit(86)

    try:
        tree = ast.parse(script, "<aggregate>")
        want = ast.dump(ast.parse(skeleton, "<template>"))
    except SyntaxError as e:
        fail(e.lineno or 0, "the rendered script does not parse: %s" % (e.msg,))
    ours = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for _name, value in ast.iter_fields(node):
            items = value if isinstance(value, list) else [value]
            passes = {s.lineno for s in items if isinstance(s, ast.Pass)}
            for item in items:
                if not isinstance(item, ast.AST):
                    continue
                span = None
                if isinstance(item, ast.stmt):
                    for marker, first, last in spans:
                        if first <= item.lineno <= last:
                            span = (marker, first, last)
                if span is None:
                    stack.append(item)
                    continue
                if span[0] not in passes:
                    fail(item.lineno, "section code escapes its block")
                if item.end_lineno > span[2]:
                    fail(item.lineno, "a section statement runs on into the template")
                ours.add(id(item))
    for node in ast.walk(tree):
        for _name, value in ast.iter_fields(node):
            if isinstance(value, list):
                value[:] = [v for v in value if id(v) not in ours]
    if ast.dump(tree) != want:
        fail(0, "the template's structure changed")
    return compile(script, "<aggregate>", "exec", dont_inherit=True)


exec(_runcell_guard(_runcell_script, _runcell_skeleton, _runcell_spans), {"__name__": "__main__"})
