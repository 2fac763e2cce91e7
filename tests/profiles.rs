//! The language profiles (`policies/profiles/{node,c,cpp,java}.toml`) end to end: each runs a
//! hello world and a program that reads its stdin, with the profile's own settings (the default
//! seccomp policy, landlock, no network). Needs the host toolchains: node, gcc, g++, javac/java.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{stderr, stdout};
use runcell::{Command, Network, Outcome, Profile, Sandbox, SandboxBuilder, Verdict};

fn builder(profile: &str) -> SandboxBuilder {
    Sandbox::builder().profile(Profile::named(profile).expect("built-in profile"))
}

/// A host directory (world-readable, the sandbox maps to another host uid) holding `name`.
fn source_dir(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    dir
}

fn run(b: SandboxBuilder, cmd: &Command, stdin: &[u8]) -> Outcome {
    let sb = b.build().expect("build sandbox");
    assert_eq!(sb.enforced().seccomp, "default");
    sb.run(cmd, stdin).expect("run")
}

fn assert_ok(o: &Outcome, want_stdout: &str) {
    assert_eq!(
        o.verdict,
        Verdict::Ok,
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    assert_eq!(stdout(o), want_stdout, "stderr:\n{}", stderr(o));
}

/// The JVM announces JAVA_TOOL_OPTIONS on stderr; nothing else may be there.
fn assert_only_jvm_notice(o: &Outcome) {
    for line in stderr(o).lines() {
        assert!(
            line.starts_with("Picked up JAVA_TOOL_OPTIONS:"),
            "unexpected stderr: {}",
            stderr(o)
        );
    }
}

fn sh(script: &str) -> Command {
    Command::new("sh").arg("-c").arg(script)
}

const STDIN_LINES: &[u8] = b"3\n10\n20\n12\n";

#[test]
fn language_profiles_are_built_in_and_keep_the_secure_defaults() {
    let names = runcell::profile::builtin_names();
    for name in ["node", "c", "cpp", "java"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
        let p = Profile::named(name).unwrap();
        assert_eq!(p.seccomp, "default", "{name}");
        // A private loopback in the sandbox's own network namespace (issue 15).
        assert_eq!(p.network, Network::Loopback, "{name}");
        assert!(p.landlock_require.fs, "{name}");
        assert!(
            p.mounts
                .iter()
                .any(|m| m.dst == Path::new("/usr") && m.src == Path::new("/usr")),
            "{name}"
        );
        assert!(
            p.mounts.iter().all(|m| m.dst != Path::new("/etc")),
            "{name} must not bind the host's whole /etc"
        );
        assert_eq!(
            p.env.get("HOME").map(String::as_str),
            Some("/tmp"),
            "{name}"
        );
    }
    // cpp extends c: the compiler settings carry over, the address space grows.
    let c = Profile::named("c").unwrap();
    let cpp = Profile::named("cpp").unwrap();
    assert_eq!(cpp.env.get("TMPDIR"), c.env.get("TMPDIR"));
    assert!(cpp.limits.memory > c.limits.memory);
    // java: the heap is sized from the memory limit (tests/realprog.rs checks the JVM's view).
    let java = Profile::named("java").unwrap();
    let opts = &java.env["JAVA_TOOL_OPTIONS"];
    assert!(opts.contains("-XX:MaxRAM={memory_mib}m"), "{opts}");
    assert!(java.limits.memory >= 4 << 30);
    assert!(java.limits.pids >= 128);
}

// ---------------------------------------------------------------------------------------------
// node

#[test]
fn node_hello_world_from_stdin() {
    let o = run(
        builder("node"),
        &Command::new("node").arg("-"),
        b"console.log('hello from node', 6 * 7)\n",
    );
    assert_ok(&o, "hello from node 42\n");
}

#[test]
fn node_program_reads_stdin() {
    // With `node -` the program itself is stdin; a program that reads input comes as a file.
    let src = source_dir(
        "sum.js",
        "let d = '';\n\
         process.stdin.on('data', c => d += c);\n\
         process.stdin.on('end', () => {\n\
           const [n, ...xs] = d.trim().split('\\n').map(Number);\n\
           console.log(n, xs.reduce((a, b) => a + b, 0));\n\
         });\n",
    );
    let o = run(
        builder("node").ro_bind(src.path(), "/src"),
        &Command::new("node").arg("/src/sum.js"),
        STDIN_LINES,
    );
    assert_ok(&o, "3 42\n");
}

#[test]
fn node_heap_is_bounded_by_max_old_space_size() {
    let o = run(
        builder("node"),
        &Command::new("node").arg("-"),
        b"const a = []; for (;;) a.push(new Array(1e5).fill(1));\n",
    );
    assert_ne!(o.verdict, Verdict::Ok);
    assert!(
        stderr(&o).contains("JavaScript heap out of memory"),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// c

const C_HELLO: &str = r#"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
static void *work(void *arg) { *(double *)arg = sqrt(*(double *)arg); return NULL; }
int main(void) {
    double x = 1764.0;
    pthread_t t;
    pthread_create(&t, NULL, work, &x);
    pthread_join(t, NULL);
    printf("hello from C %.0f\n", x);
    return 0;
}
"#;

const C_SUM: &str = r#"
#include <stdio.h>
int main(void) {
    long n, x, sum = 0;
    if (scanf("%ld", &n) != 1) return 2;
    for (long i = 0; i < n && scanf("%ld", &x) == 1; i++) sum += x;
    printf("%ld %ld\n", n, sum);
    return 0;
}
"#;

#[test]
fn c_hello_world_compiled_and_run_in_one_run() {
    let o = run(
        builder("c"),
        &sh("gcc -O2 -Wall -o /tmp/a.out -x c - -lm -pthread && exec /tmp/a.out"),
        C_HELLO.as_bytes(),
    );
    assert_ok(&o, "hello from C 42\n");
}

#[test]
fn c_program_reads_stdin() {
    let src = source_dir("sum.c", C_SUM);
    let o = run(
        builder("c").ro_bind(src.path(), "/src"),
        &sh("gcc -O2 -o /tmp/a.out /src/sum.c && exec /tmp/a.out"),
        STDIN_LINES,
    );
    assert_ok(&o, "3 42\n");
}

#[test]
fn c_compile_error_is_reported_not_run() {
    let o = run(
        builder("c"),
        &sh("gcc -o /tmp/a.out -x c - && exec /tmp/a.out"),
        b"int main(void) { return undefined_name; }\n",
    );
    assert_eq!(o.verdict, Verdict::ExitNonzero);
    assert_eq!(o.exit_code, Some(1));
    assert!(stderr(&o).contains("undefined_name"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// cpp

const CPP_HELLO: &str = r#"
#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>
int main() {
    std::vector<int> v{3, 1, 2};
    std::thread t([&] { std::sort(v.begin(), v.end()); });
    t.join();
    std::string s;
    for (int x : v) s += std::to_string(x);
    std::cout << "hello from C++ " << s << std::endl;
}
"#;

const CPP_SUM: &str = r#"
#include <iostream>
#include <numeric>
#include <vector>
int main() {
    long n;
    std::cin >> n;
    std::vector<long> xs(n);
    for (auto &x : xs) std::cin >> x;
    std::cout << n << ' ' << std::accumulate(xs.begin(), xs.end(), 0L) << '\n';
}
"#;

#[test]
fn cpp_hello_world_compiled_and_run_in_one_run() {
    let o = run(
        builder("cpp"),
        &sh("g++ -O2 -o /tmp/a.out -x c++ - -pthread && exec /tmp/a.out"),
        CPP_HELLO.as_bytes(),
    );
    assert_ok(&o, "hello from C++ 123\n");
}

#[test]
fn cpp_program_reads_stdin() {
    let src = source_dir("sum.cpp", CPP_SUM);
    let o = run(
        builder("cpp").ro_bind(src.path(), "/src"),
        &sh("g++ -O2 -o /tmp/a.out /src/sum.cpp && exec /tmp/a.out"),
        STDIN_LINES,
    );
    assert_ok(&o, "3 42\n");
}

// ---------------------------------------------------------------------------------------------
// java

const JAVA_HELLO: &str = r#"
public class Main {
    public static void main(String[] args) throws Exception {
        int[] box = new int[1];
        Thread t = new Thread(() -> box[0] = 6 * 7);
        t.start();
        t.join();
        System.out.println("hello from Java " + box[0]);
    }
}
"#;

const JAVA_SUM: &str = r#"
import java.io.BufferedReader;
import java.io.InputStreamReader;
public class Main {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        int n = Integer.parseInt(in.readLine().trim());
        long sum = 0;
        for (int i = 0; i < n; i++) sum += Long.parseLong(in.readLine().trim());
        System.out.println(n + " " + sum);
    }
}
"#;

#[test]
fn java_hello_world_compiled_with_javac_and_run() {
    let o = run(
        builder("java"),
        &sh("cat > /tmp/Main.java && javac -d /tmp /tmp/Main.java && exec java -cp /tmp Main"),
        JAVA_HELLO.as_bytes(),
    );
    assert_ok(&o, "hello from Java 42\n");
    assert_only_jvm_notice(&o);
}

#[test]
fn java_program_reads_stdin() {
    let src = source_dir("Main.java", JAVA_SUM);
    // Single-file source-code mode: compiled in memory, one JVM.
    let o = run(
        builder("java").ro_bind(src.path(), "/src"),
        &Command::new("java").arg("/src/Main.java"),
        STDIN_LINES,
    );
    assert_ok(&o, "3 42\n");
    assert_only_jvm_notice(&o);
}

#[test]
fn java_heap_is_bounded_by_xmx_not_the_address_space_limit() {
    let src = source_dir(
        "Main.java",
        "import java.util.*;\n\
         public class Main { public static void main(String[] a) {\n\
           List<byte[]> l = new ArrayList<>();\n\
           for (int i = 0; i < 1024; i++) l.add(new byte[1 << 20]);\n\
           System.out.println(l.size()); } }\n",
    );
    let o = run(
        builder("java").ro_bind(src.path(), "/src"),
        &Command::new("java").arg("/src/Main.java"),
        b"",
    );
    assert_eq!(o.verdict, Verdict::ExitNonzero, "{}", stderr(&o));
    assert_eq!(o.exit_code, Some(1));
    assert!(
        stderr(&o).contains("java.lang.OutOfMemoryError: Java heap space"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}
