#!/usr/bin/env python3
"""CPU of a preloaded Python cell's interpreter before its job, beside a bare start.

Runs, interleaved, N times each: `python3 -c pass` and `python3 -c <the runner's preload
part>` (WarmConfig::python(&[]): the runner's imports, its ready byte and definitions, up to
where it reads the job) taken from each given warm.rs, and prints the mean and median CPU
(user + system, from wait4) per start. Run it inside the python profile's sandbox, whose
interpreter starts with fewer modules than the host's:

    git show main:src/sandbox/warm.rs > /tmp/b/old_warm.rs
    cp src/sandbox/warm.rs benches/warm_python_preload.py /tmp/b/
    runcell run --profile python --ro-bind /tmp/b:/w --wall-time 120 --cpu-time 100 -- \\
        python3 /w/warm_python_preload.py 50 /w/old_warm.rs /w/warm.rs
"""
import os
import re
import statistics
import sys


def preload(path):
    src = open(path).read()
    imports = re.search(r'const PYTHON_RUNNER_IMPORTS: &str =\s*"(.*?)";', src, re.S).group(1)
    imports = imports.encode().decode('unicode_escape')
    runner = re.search(r'const PYTHON_RUNNER: &str = r#"(.*?)"#;', src, re.S).group(1)
    return imports + runner[:runner.index('_runcell_status = _runcell_job()')]


def cpu_ms(code):
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.execvp('python3', ['python3', '-c', code])
    _, status, usage = os.wait4(pid, 0)
    assert status == 0, status
    return (usage.ru_utime + usage.ru_stime) * 1000


def main():
    n = int(sys.argv[1])
    cmds = {'pass': 'pass'}
    for path in sys.argv[2:]:
        cmds[path] = preload(path)
    times = {k: [] for k in cmds}
    for _ in range(n):
        for k, code in cmds.items():
            times[k].append(cpu_ms(code))
    for k, v in times.items():
        print(f"{k:28} mean {statistics.mean(v):6.2f} ms  median {statistics.median(v):6.2f} ms  (n={n})")


if __name__ == '__main__':
    main()
