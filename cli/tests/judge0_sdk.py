"""The official Judge0 Python SDK (`judge0` on PyPI) against `runcell serve`.

Run by cli/tests/judge0_sdk.rs: argv[1] is the server's base URL. Every check asserts on
final states; nothing depends on timing. Exits non-zero (with the failing assertion) on any
difference from what Judge0 CE 1.13.1 answers.
"""

import sys

import judge0
from judge0 import Status, Submission
from judge0.retry import MaxRetries

URL = sys.argv[1]
client = judge0.Client(URL)

# Generous: a loaded 2-core machine may take long, but the answer must come.
RETRY = MaxRetries(max_retries=600)


def run(**kw):
    return judge0.run(client=client, **kw)


def check(sub, status, stdout=None):
    assert sub.status == status, (sub.status, sub.stdout, sub.stderr, sub.compile_output, sub.message)
    if stdout is not None:
        assert sub.stdout == stdout, (sub.stdout, sub.stderr)


# Server identity and configuration (the client already fetched /languages and /config_info).
assert client.version == "1.13.1", client.version
assert client.config.max_cpu_time_limit == 15.0
assert client.get_language(71).name.startswith("Python (3.")
statuses = client.get_statuses()
assert [s["id"] for s in statuses] == list(range(1, 15)), statuses

# judge0.run with the SDK's language aliases, each supported language.
programs = {
    judge0.PYTHON: "print(input() * 2)",
    judge0.C: '#include <stdio.h>\nint main(){char s[64];scanf("%63s",s);printf("%s%s\\n",s,s);return 0;}',
    judge0.CPP: '#include <iostream>\n#include <string>\nint main(){std::string s;std::cin>>s;std::cout<<s<<s<<std::endl;}',
    judge0.JAVA: 'import java.util.*;\npublic class Main{public static void main(String[] a){Scanner sc=new Scanner(System.in);String s=sc.next();System.out.println(s+s);}}',
    judge0.JAVASCRIPT: 'const s=require("fs").readFileSync(0,"utf8").trim();console.log(s+s);',
    judge0.BASH: 'read s; echo "$s$s"',
}
for lang, src in programs.items():
    sub = run(source_code=src, language=lang, stdin="ab")
    check(sub, Status.ACCEPTED, "abab\n")
    assert sub.time is not None and sub.time >= 0 and sub.memory is not None, sub
    assert sub.created_at is not None and sub.finished_at is not None

# expected_output: Judge0 ignores trailing whitespace.
check(run(source_code="print('4 ')\nprint()", language=judge0.PYTHON, expected_output="4"), Status.ACCEPTED)
check(run(source_code="print(5)", language=judge0.PYTHON, expected_output="4"), Status.WRONG_ANSWER)

# Test cases through the SDK's own helper.
results = run(
    source_code="print(int(input()) + 1)",
    language=judge0.PYTHON,
    test_cases=[("1", "2"), ("2", "3"), ("3", "5")],
)
assert [r.status for r in results] == [Status.ACCEPTED, Status.ACCEPTED, Status.WRONG_ANSWER], results

# Base64 round trip of bytes that are not ASCII.
text = "héllo wörld ✓ \U0001F600"
check(run(source_code="import sys; sys.stdout.write(sys.stdin.read())", language=judge0.PYTHON, stdin=text), Status.ACCEPTED, text)

# Errors.
ce = run(source_code="int main( {", language=judge0.C)
check(ce, Status.COMPILATION_ERROR)
assert ce.compile_output and "error" in ce.compile_output, ce.compile_output
tle = run(source_code="while True: pass", language=judge0.PYTHON, cpu_time_limit=1, wall_time_limit=3)
check(tle, Status.TIME_LIMIT_EXCEEDED)
nzec = run(source_code="import sys; sys.exit(3)", language=judge0.PYTHON)
check(nzec, Status.RUNTIME_ERROR_NZEC)
assert nzec.exit_code == 3, nzec.exit_code
exc = run(source_code="raise ValueError('boom')", language=judge0.PYTHON)
check(exc, Status.RUNTIME_ERROR_NZEC)
assert "ValueError: boom" in exc.stderr, exc.stderr
segv = run(source_code="int main(){volatile int *p = 0; return *p;}", language=judge0.C)
check(segv, Status.RUNTIME_ERROR_SIGSEGV)
assert segv.exit_signal == 11, segv.exit_signal
# (Integer division by zero does not trap on every virtual CPU: raise the signal.)
fpe = run(source_code="#include <signal.h>\nint main(){raise(SIGFPE);}", language=judge0.C)
check(fpe, Status.RUNTIME_ERROR_SIGFPE)
abrt = run(source_code="#include <stdlib.h>\nint main(){abort();}", language=judge0.C)
check(abrt, Status.RUNTIME_ERROR_SIGABRT)

# async_run + wait, and batches (create_submissions/get_submissions use /submissions/batch).
subs = [Submission(source_code=f"print({i} * {i})", language=judge0.PYTHON) for i in range(12)]
subs = judge0.async_run(client=client, submissions=subs)
assert all(s.token is not None for s in subs)
subs = judge0.wait(client=client, submissions=subs, retry_strategy=RETRY)
for i, s in enumerate(subs):
    check(s, Status.ACCEPTED, f"{i * i}\n")

one = judge0.async_run(client=client, source_code="print('later')", language=judge0.PYTHON)
one = judge0.wait(client=client, submissions=one, retry_strategy=RETRY)
check(one, Status.ACCEPTED, "later\n")

# Multi-file program (language 89) through the SDK's Filesystem (it zips and encodes).
from judge0 import File, Filesystem

fs = Filesystem(
    content=[
        File(name="compile", content="gcc -o prog main.c lib.c\n"),
        File(name="run", content="./prog\n"),
        File(name="main.c", content='#include <stdio.h>\nint f(void);\nint main(){printf("%d\\n", f());}\n'),
        File(name="lib.c", content="int f(void){return 42;}\n"),
    ]
)
multi = run(source_code="", language=89, additional_files=fs)
check(multi, Status.ACCEPTED, "42\n")

print("judge0 SDK: all checks passed")
