//! The `runcell` command line: the contract of DESIGN §5.

use std::io::Write;
use std::process::{Command, Stdio};

fn runcell(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runcell");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn python_snippet_on_stdin_with_default_profile() {
    let (code, out, err) = runcell(&["run", "--", "python3", "-"], b"print(6 * 7)\n");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "42\n");
}

#[test]
fn exit_status_contract() {
    let (code, _, _) = runcell(&["run", "--", "sh", "-c", "exit 7"], b"");
    assert_eq!(code, 7);
    let (code, _, _) = runcell(&["run", "--", "sh", "-c", "kill -TERM $$"], b"");
    assert_eq!(code, 128 + 15);
    let (code, _, err) = runcell(&["run", "--", "no-such-program"], b"");
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = runcell(&["run", "--bogus-flag", "--", "true"], b"");
    assert_eq!(code, 125, "{err}");
    let (code, _, err) = runcell(&["run", "--memory", "0", "--", "true"], b"");
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = runcell(
        &["run", "--profile", "/nonexistent.toml", "--", "true"],
        b"",
    );
    assert_eq!(code, 125, "{err}");
}

#[test]
fn report_json_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (code, _, _) = runcell(
        &[
            "run",
            "--wall-time",
            "0.3",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sleep",
            "5",
        ],
        b"",
    );
    assert_eq!(code, 137);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["verdict"], "wall_time_limit");
    assert_eq!(v["signal"], 9);
    assert!(v["exit_code"].is_null());
    for k in [
        "wall_time_ms",
        "cpu_time_ms",
        "max_rss_kib",
        "stdout_bytes",
        "stderr_bytes",
        "stdout_truncated",
        "stderr_truncated",
        "enforced",
    ] {
        assert!(!v[k].is_null(), "{k}");
    }
    assert_eq!(v["enforced"]["seccomp"], "default");
    // Setup errors are reported too, to stderr with `-`.
    let (code, _, err) = runcell(&["run", "--report", "-", "--", "nope"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("\"setup_error\""), "{err}");
}

#[test]
fn run_options() {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("f.txt"), "data").unwrap();
    std::fs::set_permissions(
        dir.path().join("f.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let ro = format!("{}:/in", dir.path().display());
    let (code, out, err) = runcell(
        &[
            "run",
            "--ro-bind",
            &ro,
            "--tmpfs",
            "/scratch:1M",
            "--env",
            "GREETING=hi",
            "--workdir",
            "/work",
            "--",
            "sh",
            "-c",
            "cat /in/f.txt; echo; echo $GREETING; pwd; touch /scratch/x && echo scratch-ok; touch ./y && echo work-ok",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "data\nhi\n/work\nscratch-ok\nwork-ok\n");
    let (code, out, _) = runcell(
        &[
            "run",
            "--output-limit",
            "10",
            "--",
            "yes",
            "0123456789abcdef",
        ],
        b"",
    );
    // A program that keeps writing is killed at the cap.
    assert_eq!(code, 128 + 9);
    assert_eq!(out, "0123456789");
    // One that wrote past the cap and exited at once has the same status, every time.
    for _ in 0..5 {
        let (code, out, _) = runcell(
            &[
                "run",
                "--output-limit",
                "1K",
                "--",
                "head",
                "-c",
                "70000",
                "/dev/zero",
            ],
            b"",
        );
        assert_eq!((code, out.len()), (137, 1024));
    }
    let (code, out, err) = runcell(
        &["run", "--network", "loopback", "--profile", "python", "--", "python3", "-"],
        b"import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nc = socket.create_connection(s.getsockname())\nprint('loopback ok')\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "loopback ok\n");
}

#[test]
fn stdin_is_passed_through_and_large() {
    let input = vec![b'a'; 3 << 20];
    let (code, out, _) = runcell(&["run", "--output-limit", "4M", "--", "wc", "-c"], &input);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), (3 << 20).to_string());
}

/// Usage errors: one line on stderr, exit 125, no `-- -1` advice (which would make `-1` the
/// program), for every shape of mistake.
#[test]
fn usage_errors_are_one_line_with_125() {
    for args in [
        &["run", "--wall-time", "-1", "--", "true"][..],
        &["run", "--memory", "-5M", "--", "true"],
        &["run", "--memory", "5X", "--", "true"],
        &["run", "--bogus-flag", "--", "true"],
        &["run", "--netwrk", "none", "--", "true"],
        &["run", "--network", "wifi", "--", "true"],
        &["run", "--pids", "many", "--", "true"],
        &["run"],
        &["run", "--wall-time", "1", "--wall-time", "2", "--", "true"],
        &["no-such-subcommand"],
        &["check", "--format", "xml"],
        &["profile", "show"],
        &["profile"],
        &[],
    ] {
        let (code, out, err) = runcell(args, b"");
        assert_eq!(code, 125, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("runcell: "), "{args:?}: {err}");
        assert!(!err.contains("-- -"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    let (_, _, err) = runcell(&["run", "--netwrk", "none", "--", "true"], b"");
    assert!(
        err.contains("--network"),
        "a close match is suggested: {err}"
    );
    // analyze keeps its contract: 2 on a usage error.
    let (code, _, err) = runcell(&["analyze"], b"");
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn help_shows_profiles_limits_format_and_exit_codes() {
    let (code, out, _) = runcell(&["run", "--help"], b"");
    assert_eq!(code, 0);
    for name in runcell::profile::builtin_names() {
        assert!(out.contains(&format!("  {name} ")), "{name}: {out}");
    }
    assert!(out.contains("wall time 10 s"), "{out}");
    assert!(out.contains("memory 256 MiB"), "{out}");
    assert!(out.contains("runcell profile show default"), "{out}");
    assert!(out.contains("128+N") && out.contains("125"), "{out}");
    for flag in [
        "--seccomp",
        "--cpu-quota",
        "--open-files",
        "--tmp-size",
        "--hostname",
        "--cgroups",
        "--clear-env",
        "--uid",
        "--landlock-best-effort",
    ] {
        assert!(out.contains(flag), "{flag}");
    }
}

#[test]
fn profile_list_and_show() {
    let (code, out, _) = runcell(&["profile", "list"], b"");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect::<Vec<_>>(),
        runcell::profile::builtin_names()
    );
    let (code, out, _) = runcell(&["profile", "show", "python"], b"");
    assert_eq!(code, 0);
    assert_eq!(out, runcell::profile::builtin_source("python").unwrap());
    // What `show` prints is a working profile file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.toml");
    std::fs::write(&path, &out).unwrap();
    let (code, out, err) = runcell(
        &[
            "run",
            "--profile",
            path.to_str().unwrap(),
            "--",
            "python3",
            "-c",
            "print(1)",
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "1\n"), "{err}");
    let (code, _, err) = runcell(&["profile", "show", "nope"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("built-in: default"), "{err}");
}

/// `--profile NAME` is a built-in; a file in the current directory never replaces it, and a
/// file is used only when named as a path.
#[test]
fn profile_names_never_read_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("policies/profiles")).unwrap();
    // A planted "python" that would open the network and a new name.
    let planted = "extends = \"default\"\nnetwork = \"loopback\"\nhostname = \"planted\"\n";
    std::fs::write(dir.path().join("policies/profiles/python.toml"), planted).unwrap();
    std::fs::write(dir.path().join("policies/profiles/evil.toml"), planted).unwrap();
    std::fs::write(dir.path().join("mine.toml"), planted).unwrap();
    let run_in = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_runcell"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run_in(&["run", "--profile", "python", "--", "hostname"]);
    assert_eq!((code, out.as_str()), (0, "runcell\n"), "{err}");
    let (code, _, err) = run_in(&["run", "--profile", "evil", "--", "hostname"]);
    assert_eq!(code, 125);
    assert!(err.contains("no built-in profile"), "{err}");
    for path in ["./mine.toml", "mine.toml", "policies/profiles/evil.toml"] {
        let (code, out, err) = run_in(&["run", "--profile", path, "--", "hostname"]);
        assert_eq!((code, out.as_str()), (0, "planted\n"), "{path}: {err}");
    }
}

/// Every setting the library has is reachable from the command line.
#[test]
fn flags_for_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (code, out, err) = runcell(
        &[
            "run",
            "--hostname",
            "judge",
            "--open-files",
            "64",
            "--tmp-size",
            "8M",
            "--seccomp",
            "strict",
            "--cgroups",
            "off",
            "--clear-env",
            "--env",
            "PATH=/usr/bin:/bin",
            "--uid",
            "2000",
            "--gid",
            "3000",
            "--file-size",
            "1M",
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "hostname; ulimit -n; id -u; id -g; df -k /tmp | tail -1 | awk '{print $2}'; env | sort",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "judge\n64\n2000\n3000\n8192\nPATH=/usr/bin:/bin\nPWD=/tmp\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let e = &v["enforced"];
    assert_eq!(e["seccomp"], "strict");
    assert_eq!(e["limits"]["open_files"], 64);
    assert_eq!(e["limits"]["tmp_size_bytes"], 8 << 20);
    assert_eq!(e["limits"]["file_size_bytes"], 1 << 20);
    assert_eq!(e["limit_mechanisms"]["memory"], "rlimit");
    assert!(e["cgroup"].as_str().unwrap().starts_with("none"), "{e}");
    // Landlock off is reported as not enforced.
    let (code, _, err) = runcell(
        &["run", "--no-landlock", "--report", "-", "--", "true"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert_eq!(v["enforced"]["landlock"]["fs"], false);
    // A CPU quota needs cgroups: refused with them off, in one line.
    let (code, _, err) = runcell(
        &[
            "run",
            "--cgroups",
            "off",
            "--cpu-quota",
            "0.5",
            "--",
            "true",
        ],
        b"",
    );
    assert_eq!(code, 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CPU quota"), "{err}");
}

/// Quantities in the report name their unit; the DESIGN §5 keys stay.
#[test]
fn report_units_are_labelled() {
    let (code, _, err) = runcell(
        &[
            "run",
            "--wall-time",
            "2.5",
            "--memory",
            "128M",
            "--report",
            "-",
            "--",
            "true",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&err).unwrap();
    let l = &v["enforced"]["limits"];
    assert_eq!(l["wall_time_ms"], 2500);
    assert_eq!(l["wall_time"], 2500);
    assert_eq!(l["cpu_time_ms"], 10_000);
    assert_eq!(l["memory_bytes"], 128 << 20);
    assert_eq!(l["output_bytes"], 1 << 20);
    assert!(v["max_rss_bytes"].as_u64().unwrap() >= v["max_rss_kib"].as_u64().unwrap());
    for k in ["wall_time_ms", "cpu_time_ms", "max_rss_kib", "stdout_bytes"] {
        assert!(v[k].is_u64(), "{k}");
    }
}

#[test]
fn check_reports_in_text_and_json() {
    let (code, out, err) = runcell(&["check"], b"");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("OK: the default profile can run here."),
        "{out}"
    );
    assert!(out.contains("landlock"), "{out}");
    let (code, out, _) = runcell(&["check", "--format", "json"], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["default_profile"]["ok"], true);
    for k in [
        "user_namespace",
        "mount_in_user_namespace",
        "clone3",
        "open_tree",
        "mount_setattr",
        "landlock",
        "seccomp",
        "cgroups",
        "ids",
        "problems",
    ] {
        assert!(!v[k].is_null(), "{k}");
    }
}

/// With user namespaces disabled (user.max_user_namespaces lowered to 0 in our own user
/// namespace) `runcell check` exits 1 and says which sysctl fixes it.
#[test]
fn check_explains_disabled_user_namespaces() {
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--", "sh", "-c"])
        .arg(format!(
            "echo 0 > /proc/sys/user/max_user_namespaces && exec {} check",
            env!("CARGO_BIN_EXE_runcell")
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("user.max_user_namespaces = 0"), "{text}");
    assert!(
        text.contains("fix: sysctl -w user.max_user_namespaces="),
        "{text}"
    );
    assert!(text.contains("FAILED"), "{text}");
}

/// A runcell host inside a container: `runcell check` run inside a runcell sandbox whose
/// seccomp policy plays the container's. Under the shipped container profile
/// (policies/container/seccomp.json, as a runcell policy) the nested default sandbox runs;
/// under a Docker-default-like filter that denies namespace creation, check fails and names
/// the seccomp filter and the container fix. Landlock is off for the outer sandbox because a
/// landlocked process may not mount (a container has no landlock domain).
#[test]
fn check_inside_a_seccomp_filtered_container() {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/container/seccomp.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ALLOW");
    let mut denied: Vec<String> = Vec::new();
    for rule in json["syscalls"].as_array().unwrap() {
        assert_eq!(rule["action"], "SCMP_ACT_ERRNO");
        for n in rule["names"].as_array().unwrap() {
            let n = n.as_str().unwrap().to_string();
            assert!(
                runcell::sandbox::seccomp::syscall_number(&n).is_some(),
                "unknown syscall {n}"
            );
            denied.push(n);
        }
    }
    for needed in [
        "clone",
        "clone3",
        "unshare",
        "mount",
        "umount2",
        "pivot_root",
        "keyctl",
        "open_tree",
        "mount_setattr",
        "seccomp",
        "landlock_create_ruleset",
        "pidfd_open",
        "sethostname",
    ] {
        assert!(!denied.iter().any(|d| d == needed), "{needed} is denied");
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("container.toml");
    let quoted: Vec<String> = denied.iter().map(|n| format!("{n:?}")).collect();
    std::fs::write(
        &policy,
        format!(
            "name = \"container\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\n\
             errno = \"EPERM\"\nsyscalls = [{}]\n",
            quoted.join(", ")
        ),
    )
    .unwrap();
    let bin = format!("{}:/opt/runcell", env!("CARGO_BIN_EXE_runcell"));
    let nested = |seccomp: &str| {
        runcell(
            &[
                "run",
                "--no-landlock",
                "--allow-nested-namespaces",
                "--seccomp",
                seccomp,
                "--ro-bind",
                &bin,
                "--",
                "/opt/runcell",
                "check",
                "--format",
                "json",
            ],
            b"",
        )
    };
    let (code, out, err) = nested(policy.to_str().unwrap());
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["default_profile"]["ok"], true, "{out}");
    // runcell's own default policy denies namespace creation, as Docker's default does.
    let (code, out, err) = nested("default");
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user_namespace"]["ok"], false, "{out}");
    let p = &v["problems"][0];
    assert_eq!(p["blocking"], true, "{out}");
    assert!(
        p["what"].as_str().unwrap().contains("seccomp filter"),
        "{out}"
    );
    assert!(
        p["fix"]
            .as_str()
            .unwrap()
            .contains("policies/container/seccomp.json"),
        "{out}"
    );
    // Namespaces allowed but mount denied (as Docker's AppArmor profile and an unprivileged
    // user namespace under Ubuntu's restriction do): the mount probe says so.
    let nomount = dir.path().join("nomount.toml");
    std::fs::write(
        &nomount,
        "name = \"nomount\"\ndefault_action = \"allow\"\n[[rule]]\naction = \"errno\"\n\
         errno = \"EPERM\"\nsyscalls = [\"mount\"]\n",
    )
    .unwrap();
    let (code, out, err) = nested(nomount.to_str().unwrap());
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user_namespace"]["ok"], true, "{out}");
    assert_eq!(v["mount_in_user_namespace"]["ok"], false, "{out}");
    let what = v["problems"][0]["what"].as_str().unwrap();
    assert!(
        what.contains("mounting inside a new user namespace"),
        "{out}"
    );
    assert!(what.contains("seccomp filter"), "{out}");
}

#[test]
fn non_utf8_arguments_and_paths_with_a_colon() {
    use std::os::unix::ffi::OsStrExt;
    // A program argument that is not UTF-8 reaches the program byte for byte.
    let arg = std::ffi::OsStr::from_bytes(b"a\xffb");
    let out = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "printf %s \"$1\" | od -An -tx1",
            "x",
        ])
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["61", "ff", "62"]
    );
    // A bind source whose name holds ':' works with the two-value form (bubblewrap's).
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("in:put");
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("f"), "colon ok").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [dir.path(), odd.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(odd.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out, err) = runcell(
        &[
            "run",
            "--ro-bind",
            odd.to_str().unwrap(),
            "/data",
            "--",
            "cat",
            "/data/f",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "colon ok");
    // The one-value form still splits at the first ':'.
    let (code, out, err) = runcell(
        &[
            "run",
            "--ro-bind",
            "/etc/hostname:/h",
            "--",
            "sh",
            "-c",
            "test -f /h && echo y",
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "y\n"), "{err}");
}

#[test]
fn help_is_computed_whenever_it_is_printed() {
    // The computed part of `run --help` (every built-in profile parsed) is only built when
    // help may be printed; each way of asking for it must still show it.
    for args in [
        &["run", "--help"][..],
        &["help", "run"],
        &["run", "--wall-time", "2", "--help"],
    ] {
        let (code, out, err) = runcell(args, b"");
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Built-in profiles"), "{args:?}: {out}");
        assert!(out.contains("128+N"), "{args:?}: {out}");
    }
    let (code, out, err) = runcell(&["run", "-h"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("--wall-time"), "{out}");
}

/// The cgroup directories `runcell-<pid>-*` that the runcell process `pid` made in this
/// process's own cgroups (the CLI's single-run leaves live there), on v1 and v2.
/// The directories of this process's own cgroups, one per mounted hierarchy that carries the
/// memory, pids or cpu controller (v1) or is the unified hierarchy (v2), found from
/// `/proc/self/mountinfo` (mount point plus the cgroup path relative to the mount's root), so
/// the test does not assume `/sys/fs/cgroup/<controller>` names.
fn own_cgroup_dirs() -> Vec<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut dirs = Vec::new();
    for m in mountinfo.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let (pre, post) = match m.split_once(" - ") {
            Some(p) => p,
            None => continue,
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, mount_point, fstype) = (pre[3], pre[4], post[0]);
        let wanted: Vec<&str> = match fstype {
            "cgroup2" => vec![""],
            "cgroup" => post[2]
                .split(',')
                .filter(|o| matches!(*o, "memory" | "pids" | "cpu"))
                .collect(),
            _ => continue,
        };
        if wanted.is_empty() {
            continue;
        }
        for line in own.lines() {
            let mut it = line.splitn(3, ':');
            let (_, controllers, path) = (it.next(), it.next(), it.next());
            let (Some(controllers), Some(path)) = (controllers, path) else {
                continue;
            };
            let matches = controllers.split(',').any(|c| wanted.contains(&c));
            if !matches {
                continue;
            }
            // The process's path is relative to the hierarchy's root; the mount shows the
            // part of the hierarchy below its own root.
            let Some(rel) = path.strip_prefix(root.trim_end_matches('/')) else {
                continue;
            };
            if !(rel.is_empty() || rel.starts_with('/')) {
                continue;
            }
            let dir = std::path::Path::new(mount_point).join(rel.trim_start_matches('/'));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

fn cgroup_leaves_of(pid: u32) -> Vec<std::path::PathBuf> {
    let prefix = format!("runcell-{pid}-");
    let mut dirs = own_cgroup_dirs();
    if let Some(base) = std::env::var_os("RUNCELL_TEST_CGROUP_V2_BASE") {
        dirs.push(base.into());
    }
    let mut found = Vec::new();
    for d in dirs {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                found.push(e.path());
            }
        }
    }
    found
}

#[test]
fn no_cgroup_is_left_behind_by_a_run_or_a_killed_runcell() {
    let (code, _, err) = runcell(&["run", "--report", "-", "--", "/bin/true"], b"");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&err).expect("report on stderr");
    let cgroup = report["enforced"]["cgroup"].as_str().unwrap_or("none");
    if cgroup.starts_with("none") {
        eprintln!("no cgroups here ({cgroup}): nothing to leave behind");
        return;
    }
    // A run that ends normally removes its leaf before runcell exits.
    let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(["run", "--", "/bin/true"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn runcell");
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    assert_eq!(cgroup_leaves_of(pid), Vec::<std::path::PathBuf>::new());

    // A runcell killed while its sandbox runs leaves its leaf (nothing runs in the process
    // any more), and the next runcell on the host removes it once it is empty.
    let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(["run", "--", "/bin/sleep", "60"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn runcell");
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cgroup_leaves_of(pid).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let leaves = cgroup_leaves_of(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !leaves.is_empty(),
        "no leaf of the running sandbox found ({cgroup})"
    );
    // The sandbox dies with its host (parent-death signal); its leaf empties, and a later
    // runcell's sweep removes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (code, _, err) = runcell(&["run", "--", "/bin/true"], b"");
        assert_eq!(code, 0, "{err}");
        let left = cgroup_leaves_of(pid);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Wait until a server accepts connections at `socket`: the file appears at `bind`, a moment
/// before `listen`, and a connection in between is refused. The probe connection is closed at
/// once (the server answers its missing request and goes on).
fn wait_listening(socket: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "runcell warm never listened at {}",
            socket.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A `runcell warm` server on a socket in a fresh temp dir (under /tmp); SIGTERM and wait on
/// drop.
struct Warm {
    child: std::process::Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Warm {
    fn start(args: &[&str]) -> Warm {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("warm.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_runcell"))
            .arg("warm")
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn runcell warm");
        let w = Warm {
            child,
            socket,
            _dir: dir,
        };
        wait_listening(&w.socket);
        w
    }

    fn sock(&self) -> &str {
        self.socket.to_str().expect("utf-8 temp path")
    }

    /// `runcell run --warm SOCKET [extra] -- program...`
    fn run(&self, extra: &[&str], program: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut args = vec!["run", "--warm", self.sock()];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(program);
        runcell(&args, stdin)
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("wait runcell warm")
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.stop();
        }
    }
}

#[test]
fn warm_jobs_use_the_clients_streams_and_exit_status() {
    let w = Warm::start(&[]);
    assert_eq!(
        w.run(&[], &["/bin/echo", "hello", "warm"], b""),
        (0, "hello warm\n".into(), String::new())
    );
    // stdin is the client's; stdout and stderr stay apart.
    let (code, out, err) = w.run(
        &[],
        &["sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"],
        b"quiet\n",
    );
    assert_eq!((code, out.as_str(), err.as_str()), (3, "QUIET\n", "oops\n"));
    // A large stdin streams through (the server reads the client's descriptor).
    let big = vec![b'x'; 3 << 20];
    let (code, out, err) = w.run(&[], &["wc", "-c"], &big);
    assert_eq!((code, out.trim()), (0, "3145728"), "{err}");
    // Killed by a signal: 128 + N, as `run`.
    let (code, ..) = w.run(&[], &["sh", "-c", "kill -9 $$"], b"");
    assert_eq!(code, 137);
    // Arguments arrive byte for byte (spaces, empty ones, non-ASCII).
    let (code, out, _) = w.run(&[], &["printf", "[%s]", "a b", "", "é"], b"");
    assert_eq!((code, out.as_str()), (0, "[a b][][é]"));
    // A limit of the server's profile: the wall time kills the whole tree.
    let quick = Warm::start(&["--wall-time", "0.5", "--output-limit", "1K"]);
    let (code, ..) = quick.run(&[], &["sleep", "30"], b"");
    assert_eq!(code, 137);
    // The server copies the output, so the output limit holds for the client's stdout.
    let (code, out, _) = quick.run(&[], &["sh", "-c", "yes | head -c 100000"], b"");
    assert_eq!(code, 137);
    assert!(out.len() <= 1024, "{} bytes through a 1K limit", out.len());
}

#[test]
fn warm_report_and_usage_errors() {
    let w = Warm::start(&["--profile", "python"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("r.json");
    let (code, out, err) = w.run(
        &["--report", report.to_str().unwrap()],
        &["python3", "-c", "print(6 * 7)"],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "42\n"), "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(r["verdict"], "ok");
    assert_eq!(r["exit_code"], 0);
    // Sandbox options belong to the server.
    let (code, _, err) = w.run(&["--memory", "64M"], &["true"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("--warm takes no sandbox options"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // No server there.
    let (code, _, err) = runcell(&["run", "--warm", "/nonexistent/w.sock", "--", "true"], b"");
    assert_eq!(code, 125);
    assert!(err.contains("cannot connect"), "{err}");
    // A program the server's sandbox does not have: runcell's own failure, 125.
    let (code, _, err) = w.run(&[], &["no-such-program-here"], b"");
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn warm_socket_path_is_checked() {
    let w = Warm::start(&[]);
    // A second server on a live socket fails and leaves the first one serving.
    let (code, _, err) = runcell(&["warm", "--socket", w.sock()], b"");
    assert_eq!(code, 125);
    assert!(err.contains("already listening"), "{err}");
    assert_eq!(w.run(&[], &["true"], b"").0, 0);
    // Only the server's user may connect: the socket is 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&w.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // Something other than a socket at the path is never removed.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep").unwrap();
    let (code, _, err) = runcell(&["warm", "--socket", file.to_str().unwrap()], b"");
    assert_eq!(code, 125);
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // A stale socket file (nobody listening) is replaced.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(["warm", "--socket", stale.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn runcell warm");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let served = loop {
        let (code, out, _) = runcell(
            &["run", "--warm", stale.to_str().unwrap(), "--", "echo", "ok"],
            b"",
        );
        if code == 0 {
            break out;
        }
        assert!(std::time::Instant::now() < deadline, "never served");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(served, "ok\n");
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(!stale.exists(), "the socket outlived its server");
}

#[test]
fn warm_server_serves_only_its_own_user() {
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        panic!("this test switches users: run the suite as root (as CI does)");
    }
    use std::os::unix::process::CommandExt;
    let w = Warm::start(&[]);
    let as_nobody = |socket: &str| {
        Command::new(env!("CARGO_BIN_EXE_runcell"))
            .args(["run", "--warm", socket, "--", "echo", "served"])
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::null())
            .output()
            .expect("spawn as nobody")
    };
    // The socket's mode keeps other users out...
    let o = as_nobody(w.sock());
    assert_eq!(o.status.code(), Some(125));
    assert!(o.stdout.is_empty());
    // ...and so does the server's peer check, behind a socket anyone may open (a directory
    // or mode a deployment got wrong).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        w.socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&w.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = as_nobody(w.sock());
    assert_eq!(o.status.code(), Some(125));
    assert!(o.stdout.is_empty(), "served a job for another user");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("runs jobs for uid 0 only"), "{err}");
    // The server's own user is still served.
    assert_eq!(w.run(&[], &["echo", "ok"], b"").1, "ok\n");
}

#[test]
fn consecutive_warm_jobs_do_not_see_each_other() {
    let w = Warm::start(&["--cells", "1"]);
    let (code, out, err) = w.run(
        &[],
        &[
            "sh",
            "-c",
            "echo secret > /tmp/left; echo secret > /dev/shm/left; export LEFT=1; \
             (setsid sleep 300 >/dev/null 2>&1 &); echo done",
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, "done\n"), "{err}");
    let (code, out, err) = w.run(
        &[],
        &[
            "sh",
            "-c",
            "ls -A /tmp /dev/shm; echo \"env=${LEFT:-unset}\"; \
             for p in /proc/[0-9]*; do cat $p/comm; done",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("left"),
        "a previous job's file is visible:\n{out}"
    );
    assert!(out.contains("env=unset"), "{out}");
    assert!(
        !out.contains("sleep"),
        "a previous job's process is visible:\n{out}"
    );
}

/// Is a process whose command line contains `needle` alive on the host?
fn process_with_arg(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| c.split(|&b| b == 0).any(|a| a == needle.as_bytes()))
                .unwrap_or(false)
        })
}

/// A client of `w` whose job prints `started`, then execs `sleep MARKER`; returned once that
/// sleep shows on the host (stdout read up to `started`; stderr piped).
fn sleeping_warm_client(w: &Warm, marker: &str) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut client = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(["run", "--warm", w.sock(), "--", "sh", "-c"])
        .arg(format!("echo started; exec sleep {marker}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut line = String::new();
    BufReader::new(client.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n");
    // `exec sleep` follows the echo: wait until it shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !process_with_arg(marker) {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never showed as running"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    client
}

#[test]
fn a_killed_warm_client_ends_its_job() {
    let w = Warm::start(&["--wall-time", "600"]);
    let marker = format!("300.{}", std::process::id());
    let mut client = sleeping_warm_client(&w, &marker);
    client.kill().unwrap();
    client.wait().unwrap();
    // The job goes with its client (at once; the bound only keeps a broken build from
    // hanging the suite, the job's own wall time is 600 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while process_with_arg(&marker) {
        assert!(
            std::time::Instant::now() < deadline,
            "the job outlived its client"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The server goes on serving.
    assert_eq!(w.run(&[], &["echo", "ok"], b"").1, "ok\n");
}

#[test]
fn stopping_the_warm_server_kills_its_running_jobs() {
    let mut w = Warm::start(&["--wall-time", "600"]);
    let marker = format!("301.{}", std::process::id());
    let client = sleeping_warm_client(&w, &marker);
    // The job's 600 s wall time is not waited for: SIGTERM kills it, the client is told.
    assert!(w.stop().success());
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server stopped"), "{err}");
    assert!(!process_with_arg(&marker), "the job outlived its server");
}

#[test]
fn warm_clients_stdin_of_every_kind() {
    use std::io::Write as _;
    let w = Warm::start(&["--wall-time", "2"]);
    let client = |stdin: Stdio, program: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_runcell"))
            .args(["run", "--warm", w.sock(), "--"])
            .args(program)
            .stdin(stdin)
            .output()
            .expect("spawn client")
    };
    // A regular file is handed over as it is.
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(b"from a file\n").unwrap();
    use std::io::Seek;
    f.rewind().unwrap();
    let o = client(Stdio::from(f), &["cat"]);
    assert_eq!(
        (o.status.code(), &o.stdout[..]),
        (Some(0), &b"from a file\n"[..])
    );
    // /dev/null too.
    let o = client(Stdio::null(), &["cat"]);
    assert_eq!((o.status.code(), &o.stdout[..]), (Some(0), &b""[..]));
    // A pipe that never ends (its writer stays open, silent) does not keep a job that does
    // not read it from finishing, nor its client from exiting...
    let (reader, writer) = std::io::pipe().unwrap();
    let o = client(Stdio::from(reader.try_clone().unwrap()), &["echo", "done"]);
    assert_eq!((o.status.code(), &o.stdout[..]), (Some(0), &b"done\n"[..]));
    // ...and a job that waits for it ends at its wall time.
    let o = client(Stdio::from(reader), &["cat"]);
    assert_eq!(o.status.code(), Some(137));
    drop(writer);
}

/// The client takes the early path (cli/src/early: the request sent before libc starts) when
/// its stdin is /dev/null, a regular file or a pipe (relayed), and starts as usual with a
/// socket (relayed too). Every kind of result reads the same either way: statuses, streams,
/// errors from the server, the report, a large argv, no server at all.
#[test]
fn warm_clients_early_and_usual_starts_agree() {
    let w = Warm::start(&["--wall-time", "5"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let big = "x".repeat(100_000);
    let report = dir.path().join("r.json");
    let report_arg = format!("--report={}", report.display());
    let sock = w.sock().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "--warm",
            &sock,
            "--",
            "sh",
            "-c",
            "printf '[%s]' \"$@\"; exit 3",
            "x",
            "a b",
            "",
            "é",
        ],
        vec!["--warm", &sock, "--", "sh", "-c", "echo out; echo err >&2"],
        vec!["--warm", &sock, "--", "sh", "-c", "kill -9 $$"],
        vec!["--warm", &sock, "--", "no-such-program-here"],
        vec!["--warm", &sock, "--report", "-", "--", "sh", "-c", "exit 4"],
        vec!["--warm", &sock, &report_arg, "--", "true"],
        vec!["--warm", "/nonexistent/w.sock", "--", "true"],
        vec![
            "--warm",
            &sock,
            "--",
            "sh",
            "-c",
            "echo $#; printf %s \"$@\" | wc -c",
            "a",
            &big,
            &big,
            &big,
            &big,
            &big,
        ],
    ];
    let client = |args: &[&str], stdin: Stdio| {
        let o = Command::new(env!("CARGO_BIN_EXE_runcell"))
            .arg("run")
            .args(args)
            .stdin(stdin)
            .output()
            .expect("spawn client");
        let written = std::fs::read_to_string(&report).ok();
        let _ = std::fs::remove_file(&report);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            // Times, memory and the cell's host ids differ from run to run; nothing else may.
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .chain(written.as_deref().unwrap_or("").lines())
                .filter(|l| {
                    !["_ms\"", "rss_", "max_memory_", "host_uid", "host_gid"]
                        .iter()
                        .any(|k| l.contains(k))
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    for case in &cases {
        let early_null = client(case, Stdio::null());
        let early_file = client(case, Stdio::from(std::fs::File::open(&empty).unwrap()));
        let early_pipe = client(case, Stdio::piped());
        let usual = client(case, closed_socket());
        assert_eq!(early_null, usual, "{case:?}");
        assert_eq!(early_file, usual, "{case:?}");
        assert_eq!(early_pipe, usual, "{case:?}");
        assert!(early_null.0.is_some(), "{case:?}: {early_null:?}");
    }
    // What they agree on is right.
    let (code, out, _) = client(&cases[0], Stdio::null());
    assert_eq!((code, out.as_str()), (Some(3), "[a b][][é]"));
    let (code, out, err) = client(&cases[1], Stdio::null());
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (Some(0), "out\n", "err")
    );
    assert_eq!(client(&cases[2], Stdio::null()).0, Some(137));
    let (code, _, err) = client(&cases[3], Stdio::null());
    assert_eq!(code, Some(125));
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = client(&cases[4], Stdio::null());
    assert_eq!(code, Some(4));
    assert!(err.contains("\"verdict\": \"exit_nonzero\""), "{err}");
    let (code, _, err) = client(&cases[5], Stdio::null());
    assert_eq!(code, Some(0));
    assert!(
        err.contains("\"verdict\": \"ok\""),
        "the report file: {err}"
    );
    let (code, _, err) = client(&cases[6], Stdio::null());
    assert_eq!(code, Some(125));
    assert!(err.contains("cannot connect"), "{err}");
    let (code, out, _) = client(&cases[7], Stdio::null());
    assert_eq!((code, out.as_str()), (Some(0), "5\n500000\n"));
}

/// A warm server's reply: `RCR1`, kind, shell status, text length, text.
fn warm_reply(kind: u32, status: i32, text: &[u8]) -> Vec<u8> {
    let mut r = b"RCR1".to_vec();
    r.extend_from_slice(&kind.to_ne_bytes());
    r.extend_from_slice(&status.to_ne_bytes());
    r.extend_from_slice(&(text.len() as u32).to_ne_bytes());
    r.extend_from_slice(text);
    r
}

/// A fake warm server's side of one connection: accepted, its request read whole with plain
/// reads (so the descriptors sent with it are closed at once); the connection and the
/// request's argv bytes.
fn accept_warm_request(
    listener: &std::os::unix::net::UnixListener,
) -> (std::os::unix::net::UnixStream, Vec<u8>) {
    use std::io::Read as _;
    let (mut conn, _) = listener.accept().expect("accept");
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).expect("request header");
    assert_eq!(&head[..4], b"RCW1");
    let len = u32::from_ne_bytes(head[8..12].try_into().unwrap()) as usize;
    let mut argv = vec![0u8; len];
    conn.read_exact(&mut argv).expect("request argv");
    (conn, argv)
}

/// A socket whose other end is closed, for stdin: read at once to its end, and a kind of
/// stdin the warm client's early path leaves to the usual start.
fn closed_socket() -> Stdio {
    let (mine, _theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    Stdio::from(std::os::fd::OwnedFd::from(mine))
}

/// Replies no real server sends in one piece or at all: a header split in two, statuses out
/// of range, an outcome with text nobody asked for, an error, a wrong magic, a close without a
/// reply. A fake server gives each to clients starting early (stdin /dev/null, or a pipe at
/// its end, relayed: the request sent before libc starts) and to one starting as usual (a
/// socket on stdin, relayed); all read it the same, as `warm::client` does. While a client
/// waits for the reply, the server looks at the system call it waits in
/// (`/proc/PID/syscall`): the early path's `recvfrom` with `MSG_PEEK`, which the usual client
/// never makes, so the early path did run.
#[test]
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
fn warm_clients_read_every_reply_shape_alike() {
    use std::io::Write as _;
    /// Wait until `pid` waits in a read of the reply on its connection (`recvfrom`, or
    /// `read`): whether with `MSG_PEEK`, which only the early path uses. `early`: wait for
    /// that one (a relay's `poll` may come first).
    fn peeks_for_reply(pid: u32, early: bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
            let f: Vec<&str> = s.split_whitespace().collect();
            let nr = f.first().and_then(|v| v.parse::<u64>().ok());
            let flags = f
                .get(4)
                .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
            let peek = flags == Some(libc::MSG_PEEK as u64);
            match nr {
                Some(45) if peek || !early => return peek,
                Some(0) if !early => return false,
                _ => {}
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the client (early {early}) never waited for the reply: {s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let ok7 = warm_reply(0, 7, b"");
    /// The reply's pieces (sent 50 ms apart), the client's exit status, what its one
    /// error line says (nothing on stderr when empty).
    type Case = (Vec<Vec<u8>>, Option<i32>, &'static str);
    let cases: Vec<Case> = vec![
        (vec![ok7[..5].to_vec(), ok7[5..].to_vec()], Some(7), ""),
        (vec![warm_reply(0, 300, b"")], Some(255), ""),
        (vec![warm_reply(0, -5, b"")], Some(0), ""),
        (
            vec![warm_reply(0, 3, b"{\"verdict\": \"ok\"}")],
            Some(3),
            "",
        ),
        (
            vec![warm_reply(1, 0, b"no cells today")],
            Some(125),
            "no cells today",
        ),
        (
            vec![b"XXXX".to_vec(), vec![0; 12]],
            Some(125),
            "not a runcell warm reply",
        ),
        (vec![], Some(125), "without a result"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, (pieces, status, err_has)) in cases.iter().enumerate() {
        let socket = dir.path().join(format!("fake{i}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let mut results = Vec::new();
        for (stdin, early) in [("null", true), ("pipe", true), ("socket", false)] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_runcell"))
                .args(["run", "--warm", socket.to_str().unwrap(), "--", "true"])
                .stdin(match stdin {
                    "null" => Stdio::null(),
                    "pipe" => Stdio::piped(),
                    _ => closed_socket(),
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn client");
            // The pipe ends at once: the relay is over before the reply is waited for.
            drop(child.stdin.take());
            let (mut conn, argv) = accept_warm_request(&listener);
            assert_eq!(argv, b"true\0");
            assert_eq!(
                peeks_for_reply(child.id(), early),
                early,
                "case {i}, {stdin}"
            );
            for (n, piece) in pieces.iter().enumerate() {
                if n > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                conn.write_all(piece).expect("reply");
            }
            drop(conn);
            let o = child.wait_with_output().expect("wait client");
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            results.push((
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                err,
            ));
        }
        let (early, usual) = (&results[0], &results[2]);
        assert_eq!(early, usual, "case {i}");
        assert_eq!(&results[1], usual, "case {i}");
        assert_eq!(early.0, *status, "case {i}: {early:?}");
        assert!(early.1.is_empty(), "case {i}: {early:?}");
        if err_has.is_empty() {
            assert!(early.2.is_empty(), "case {i}: {early:?}");
        } else {
            assert!(early.2.contains(err_has), "case {i}: {early:?}");
            assert_eq!(early.2.lines().count(), 1, "case {i}: {early:?}");
        }
    }
}

/// A job that stops reading its stdin while the client still relays input into it: the
/// client's write to the job's pipe fails (no reader left) and the client goes on to the
/// reply, as the usual client does, rather than dying of SIGPIPE (the early path runs before
/// the Rust runtime ignores it). The fake server drops the stdin it receives at once and
/// replies 100 ms later; the client's stdin is a pipe (early) or a socket (usual) that a
/// thread keeps filling until the client is gone.
#[test]
fn a_warm_client_relaying_into_a_closed_stdin_still_gets_the_reply() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("fake.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    for early in [true, false] {
        let (stdin, mut feed): (Stdio, Box<dyn std::io::Write + Send>) = if early {
            let (r, w) = std::io::pipe().expect("pipe");
            (Stdio::from(r), Box::new(w))
        } else {
            let (mine, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
            (
                Stdio::from(std::os::fd::OwnedFd::from(mine)),
                Box::new(theirs),
            )
        };
        let child = Command::new(env!("CARGO_BIN_EXE_runcell"))
            .args(["run", "--warm", socket.to_str().unwrap(), "--", "cat"])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn client");
        let feeder = std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 << 10];
            // Until the client is gone (EPIPE) or 64 MiB went (a client that never stops
            // reading would be a failure the status shows).
            for _ in 0..1024 {
                if feed.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        // The job's stdin, which came with the request, is closed by the plain read.
        let (mut conn, _) = accept_warm_request(&listener);
        std::thread::sleep(std::time::Duration::from_millis(100));
        // A client already dead (of SIGPIPE) fails this write; its status says so below.
        let _ = conn.write_all(&warm_reply(0, 9, b""));
        drop(conn);
        let o = child.wait_with_output().expect("wait client");
        feeder.join().expect("feeder");
        assert_eq!(
            o.status.code(),
            Some(9),
            "early {early}: {:?}, {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn warm_server_refuses_other_user_namespaces() {
    // The uid alone would not tell a sandboxed job of an unprivileged server from its user:
    // a client in another user namespace (here root mapped to root, so the socket's mode
    // lets it connect) is refused by the server.
    let w = Warm::start(&[]);
    let o = Command::new("unshare")
        .args([
            "--user",
            "--map-current-user",
            env!("CARGO_BIN_EXE_runcell"),
        ])
        .args(["run", "--warm", w.sock(), "--", "echo", "served"])
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        o.stdout.is_empty(),
        "served a job for another user namespace"
    );
    assert!(err.contains("other user namespaces"), "{err}");
}

#[test]
fn a_warm_server_removes_only_its_own_socket() {
    let mut first = Warm::start(&[]);
    // Another server takes over the path (the first one's file removed by hand)...
    std::fs::remove_file(&first.socket).unwrap();
    let mut second = Command::new(env!("CARGO_BIN_EXE_runcell"))
        .args(["warm", "--socket", first.sock()])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn runcell warm");
    wait_listening(&first.socket);
    // ...and stopping the first leaves the second's socket in place.
    assert!(first.stop().success());
    assert!(
        first.socket.exists(),
        "the first server removed the second's socket"
    );
    assert_eq!(first.run(&[], &["echo", "second"], b"").1, "second\n");
    // SAFETY: kill on our own child's pid.
    unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert!(second.wait().unwrap().success());
    assert!(!first.socket.exists());
}

#[test]
fn idle_warm_connections_do_not_hold_the_server() {
    // As many silent connections as the server has job threads (max(2 x cells, 8)): each is
    // answered and closed once its request is overdue, and a real job is served after them.
    let w = Warm::start(&["--cells", "1"]);
    let idle: Vec<_> = (0..8)
        .map(|_| std::os::unix::net::UnixStream::connect(&w.socket).expect("connect"))
        .collect();
    let (code, out, err) = w.run(&[], &["echo", "served"], b"");
    assert_eq!((code, out.as_str()), (0, "served\n"), "{err}");
    for mut c in idle {
        let mut reply = Vec::new();
        use std::io::Read;
        c.read_to_end(&mut reply).expect("read");
        assert!(
            String::from_utf8_lossy(&reply).contains("reading the request"),
            "{reply:?}"
        );
    }
}

#[test]
fn warm_jobs_run_concurrently_and_the_server_stops_cleanly() {
    let mut w = Warm::start(&["--cells", "2"]);
    let server_pid = w.child.id();
    let sock = w.sock().to_string();
    let jobs: Vec<_> = (0..12)
        .map(|i| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let input = format!("job {i}\n");
                runcell(&["run", "--warm", &sock, "--", "cat"], input.as_bytes())
            })
        })
        .collect();
    for (i, j) in jobs.into_iter().enumerate() {
        let (code, out, err) = j.join().unwrap();
        assert_eq!((code, out), (0, format!("job {i}\n")), "{err}");
    }
    assert!(w.stop().success());
    assert!(!w.socket.exists(), "the socket outlived its server");
    // Its cells and their cgroups went with it.
    assert_eq!(
        cgroup_leaves_of(server_pid),
        Vec::<std::path::PathBuf>::new()
    );
}
