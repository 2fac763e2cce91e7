#!/usr/bin/env python3
"""Check the machine code of runcell's early path (cli/src/early) in a built binary.

That code runs before libc starts: in a static-pie binary nothing is relocated yet and libc's
IFUNCs (memcpy, memcmp, ...) are unresolved, and there is no thread-local storage. So it may
only call and jump within itself (and to libc's `_start`, where it hands over; what is
checked is every function reached that way from the entry), may refer to
no data but read-only constants (.rodata: never relocated) and its own statics, and must not
touch %fs/%gs (TLS). The compiler decides what the Rust source becomes (a byte loop may turn
into a memcpy call, a match into a table of pointers), so the check reads the result.

    .ci/check-early-entry.py BINARY

Exits 0 and prints one line when every rule holds; otherwise prints each violation, exit 1.
"""

import re
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def main(binary):
    # Symbols with their sizes: address, size, type, demangled name.
    syms = []
    for line in run("nm", "-S", "-C", "--defined-only", binary).splitlines():
        m = re.match(r"([0-9a-f]+) ([0-9a-f]+) (\w) (.*)$", line)
        if m:
            addr, size, kind, name = m.groups()
            syms.append((int(addr, 16), int(size, 16), kind, name))
        else:
            m = re.match(r"([0-9a-f]+) (\w) (.*)$", line)
            if m:
                syms.append((int(m.group(1), 16), 0, m.group(2), m.group(3)))
    early_fns = [
        (a, s, n)
        for a, s, k, n in syms
        if k in "tT" and (n.startswith("runcell::early::") or n == "runcell_entry")
    ]
    statics = [(a, s, n) for a, s, k, n in syms if k in "dDbB" and n.startswith("runcell::early::")]
    starts = [a for a, s, k, n in syms if n == "_start" and k in "tT"]
    problems = []
    names = {n for _, _, n in early_fns}
    for want in ("runcell_entry", "runcell::early::early_main"):
        if want not in names:
            problems.append(f"no function {want} in the binary")
    if len(starts) != 1:
        problems.append(f"expected one _start, found {len(starts)}")
    header = run("readelf", "-hW", binary)
    entry = int(re.search(r"Entry point address:\s+0x([0-9a-f]+)", header).group(1), 16)
    entry_fn = [a for a, s, n in early_fns if n == "runcell_entry"]
    if entry_fn and entry != entry_fn[0]:
        problems.append(f"the ELF entry 0x{entry:x} is not runcell_entry")

    # Sections: read-only constants may be read; anything else only if it is an early static.
    sections = []
    for line in run("readelf", "-SW", binary).splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            sections.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))

    def section_of(addr):
        for name, start, size in sections:
            if start <= addr < start + size:
                return name
        return None

    def in_ranges(addr, ranges):
        return any(a <= addr < a + max(s, 1) for a, s, _ in ranges)

    # From the entry, every function the early code branches to (it must be early code
    # itself, or `_start`): the code that runs before libc, and nothing else, is checked.
    prefixes = {"addr32", "notrack", "bnd", "data16", "cs", "ds", "lock", "rep", "repz", "repnz"}
    riprel = re.compile(r"\(%rip\).*#\s*([0-9a-f]+)")
    by_name = {n: (a, s) for a, s, n in early_fns}
    todo = ["runcell_entry"] if "runcell_entry" in by_name else []
    seen = set(todo)
    while todo:
        name = todo.pop()
        addr, size = by_name[name]
        if size == 0:
            problems.append(f"{name}: no size in the symbol table")
            continue
        text = run(
            "objdump", "-d", "--no-show-raw-insn", "-C",
            f"--start-address=0x{addr:x}", f"--stop-address=0x{addr + size:x}", binary,
        )
        for line in text.splitlines():
            m = re.match(r"^\s*[0-9a-f]+:\s+(.*)$", line)
            if not m:
                continue
            insn = m.group(1).split("#")[0].split("<")[0].split()
            while insn and (insn[0] in prefixes or insn[0].startswith("rex")):
                insn = insn[1:]
            where = f"{name}: {line.strip()}"
            if "%fs:" in line or "%gs:" in line:
                problems.append(f"{where}: thread-local storage")
            mnemonic = insn[0] if insn else ""
            if re.fullmatch(r"(call|jmp)q?|j[a-z]{1,3}|loop\w*", mnemonic):
                target = insn[1] if len(insn) > 1 else ""
                if target.startswith("*") or not re.fullmatch(r"[0-9a-f]+", target):
                    problems.append(f"{where}: indirect branch")
                    continue
                t = int(target, 16)
                if t in starts:
                    continue
                owner = [n for a, s, n in early_fns if a <= t < a + max(s, 1)]
                if not owner:
                    problems.append(f"{where}: branches out of the early code")
                elif owner[0] not in seen:
                    seen.add(owner[0])
                    todo.append(owner[0])
                continue
            if any(re.fullmatch(r"(call|jmp)\w*", tok) for tok in insn):
                problems.append(f"{where}: a branch this check does not understand")
            m = riprel.search(line)
            if m:
                t = int(m.group(1), 16)
                sec = section_of(t)
                ok = (sec or "").startswith(".rodata") or in_ranges(t, statics)
                if not ok:
                    problems.append(f"{where}: refers to {sec or 'no section'}")
    checked = [(a, s, n) for a, s, n in early_fns if n in seen]
    if problems:
        for p in problems:
            print(f"early entry: {p}", file=sys.stderr)
        sys.exit(1)
    print(
        f"early entry: ok ({len(checked)} functions reached from runcell_entry, "
        f"{sum(s for _, s, _ in checked)} bytes: no call or jump out, no relocated data, no TLS)"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
