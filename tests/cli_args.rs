//! Bad input is a clear error before any work: every numeric option of every
//! subcommand states its range in `--help` as `(from MIN to MAX)`, and that
//! range is the real one (MIN and MAX accepted, just outside refused, `nan`
//! and `inf` refused), checked through the built binary. Limits that join
//! two options, `compare --help`, and the examples' port argument too.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::EXE;

/// Arguments a subcommand (or one of its options) needs besides the option
/// under test. A new subcommand with a required option goes here.
fn base_args(sub: &str, opt: &str) -> &'static [&'static str] {
    match (sub, opt) {
        ("bench", "connections") => &["--connect-rate", "--addr", "127.0.0.1:9"],
        ("bench", "loss-timeout") => &["--addr", "127.0.0.1:9", "--proto", "udp"],
        ("bench", _) => &["--addr", "127.0.0.1:9"],
        ("http", "threads") => &["--root", "/", "--model", "port"],
        ("http", _) => &["--root", "/"],
        ("serve", "threads") => &["--model", "port"],
        _ => &[],
    }
}

/// Runs `overlapped ARGS` with `OVERLAPPED_CHECK_ARGS=1` (checks only),
/// killed after 30 s (a subcommand that ignores the variable would run).
fn check(args: &[&str]) -> Output {
    let mut child = Command::new(EXE)
        .args(args)
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "`overlapped {}` did not stop after its checks: does it call cli::only_checking()?",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(EXE).args(args).arg("--help").output().unwrap();
    assert!(out.status.success());
    text(&out.stdout)
}

/// The subcommands listed by `overlapped --help`.
fn subcommands() -> Vec<String> {
    let top = help(&[]);
    let mut subs = Vec::new();
    let mut in_commands = false;
    for line in top.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            let name = line.split_whitespace().next().unwrap();
            if name != "help" {
                subs.push(name.to_string());
            }
        }
    }
    assert!(subs.len() >= 5, "{top}");
    subs
}

/// `(option, min, max)` for each option whose help states a range.
fn stated_ranges(help: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        let t = line.trim_start();
        // `--name <NAME>` or `-x, --name`: an option's first line.
        let opt_line = t
            .strip_prefix("--")
            .or_else(|| t.get(4..).and_then(|r| r.strip_prefix("--")));
        if let Some(rest) = opt_line {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-')
                .collect();
            current = Some(name);
        }
        if let (Some(opt), Some(at)) = (&current, line.find("(from ")) {
            let words: Vec<&str> = line[at + 6..].split_whitespace().collect();
            if words.len() >= 3 && words[1] == "to" {
                let max = words[2].trim_end_matches(')').to_string();
                out.push((opt.clone(), words[0].to_string(), max));
            }
        }
    }
    out
}

fn beyond(v: &str, up: bool) -> String {
    if let Ok(i) = v.parse::<i64>() {
        return (if up { i + 1 } else { i - 1 }).to_string();
    }
    let f: f64 = v.parse().unwrap();
    if up {
        (f * 1.5 + 1.0).to_string()
    } else if f > 0.0 {
        (f / 2.0).to_string()
    } else {
        "-1".into()
    }
}

fn assert_accepted(sub: &str, opt: &str, value: &str) {
    let arg = format!("--{opt}={value}");
    let mut args = vec![sub];
    args.extend(base_args(sub, opt));
    args.push(&arg);
    let out = check(&args);
    assert!(
        out.status.success() && text(&out.stdout).contains("arguments ok"),
        "`overlapped {}` should be accepted (stated range): {}",
        args.join(" "),
        text(&out.stderr)
    );
}

fn assert_refused(sub: &str, opt: &str, value: &str) {
    let arg = format!("--{opt}={value}");
    let mut args = vec![sub];
    args.extend(base_args(sub, opt));
    args.push(&arg);
    let out = check(&args);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "`overlapped {}` should be a usage error: {err}",
        args.join(" ")
    );
    assert!(
        err.contains(&format!("--{opt}")) && !text(&out.stdout).contains("arguments ok"),
        "the error should name --{opt}: {err}"
    );
}

#[test]
fn every_numeric_option_states_its_real_range() {
    let mut checked = Vec::new();
    for sub in subcommands() {
        let h = help(&[&sub]);
        for (opt, min, max) in stated_ranges(&h) {
            assert_accepted(&sub, &opt, &min);
            assert_accepted(&sub, &opt, &max);
            assert_refused(&sub, &opt, &beyond(&max, true));
            assert_refused(&sub, &opt, &beyond(&min, false));
            for junk in ["nan", "inf", "-inf", "1e400", "x"] {
                assert_refused(&sub, &opt, junk);
            }
            checked.push(format!("{sub} --{opt}"));
        }
        // Every option that takes a number states its range.
        for line in h.lines() {
            let t = line.trim_start();
            let numeric = [
                "<SECS>",
                "<PORT>",
                "<BUFFER>",
                "<CONNS>",
                "<SIZE>",
                "<DEPTH>",
                "<ROUNDS>",
                "<WORKERS>",
                "<RATE>",
                "<WARMUP>",
                "<RSS_SLACK_KIB>",
                "<FD_SLACK>",
                "<CONNECT_TIMEOUT>",
                "<STALL_TIMEOUT>",
                "<LOSS_TIMEOUT>",
            ]
            .iter()
            .any(|m| t.starts_with("--") && t.contains(m));
            if numeric {
                let name = t[2..].split_whitespace().next().unwrap();
                assert!(
                    checked.iter().any(|c| c == &format!("{sub} --{name}")),
                    "`{sub} --{name}` takes a number but states no range:\n{h}"
                );
            }
        }
    }
    for must in [
        "serve --buffer",
        "serve --port",
        "bench --conns",
        "bench --secs",
        "bench --rate",
        "compare --secs",
        "compare --rounds",
        "soak --secs",
        "soak --workers",
    ] {
        assert!(
            checked.iter().any(|c| c == must),
            "{must} not checked: {checked:?}"
        );
    }
}

#[test]
fn limits_that_join_two_options_are_checked_before_any_work() {
    // UDP: connections × (depth + 1) at most 65000, as both helps say.
    let ok = check(&[
        "bench",
        "--addr",
        "127.0.0.1:9",
        "--proto",
        "udp",
        "--conns",
        "32500",
        "--depth",
        "1",
    ]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let over = check(&[
        "bench",
        "--addr",
        "127.0.0.1:9",
        "--proto",
        "udp",
        "--conns",
        "32500",
        "--depth",
        "2",
    ]);
    assert_eq!(over.status.code(), Some(2));
    let err = text(&over.stderr);
    assert!(
        err.contains("--conns") && err.contains("--depth") && err.contains("65000"),
        "{err}"
    );
    let big = check(&[
        "bench",
        "--addr",
        "127.0.0.1:9",
        "--proto",
        "udp",
        "--size",
        "65001",
    ]);
    assert_eq!(big.status.code(), Some(2), "{}", text(&big.stderr));
    // TCP: the largest stated --conns is accepted (no hidden ring limit).
    let tcp = check(&["bench", "--addr", "127.0.0.1:9", "--conns", "32500"]);
    assert!(tcp.status.success(), "{}", text(&tcp.stderr));
}

#[test]
fn compare_checks_its_output_directory_before_the_first_run() {
    // Without OVERLAPPED_CHECK_ARGS: the check itself must stop it, at once.
    let started = Instant::now();
    let out = Command::new(EXE)
        .args(["compare", "--quick", "--out", "/proc/nope"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/proc/nope"),
        "the error names the path: {err}"
    );
    assert!(!err.contains("round 1"), "nothing may run first: {err}");
    assert!(started.elapsed() < Duration::from_secs(20));

    let file = std::env::temp_dir().join(format!("overlapped-out-file-{}", std::process::id()));
    std::fs::write(&file, b"not a directory").unwrap();
    let out = Command::new(EXE)
        .args(["compare", "--quick", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&file.display().to_string()) && err.contains("not a directory"),
        "{err}"
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn compare_help_lists_servers_scenarios_and_defaults() {
    let h = help(&["compare"]);
    for name in [
        "event",
        "routine",
        "tokio",
        "uring",
        "hand-written io_uring loop",
        "50x64B",
        "500x64B",
        "16x16KiB",
        "50x64Bx16",
        "10000x64B",
        "50x64B@60k",
    ] {
        assert!(h.contains(name), "{name} missing from compare --help:\n{h}");
    }
    assert!(h.contains("[default: event,routine,tokio,uring]"), "{h}");
    assert!(h.contains("[default: 5, or 1 with --quick]"), "{h}");
    assert!(h.contains("[default: 3, or 1 with --quick]"), "{h}");
    assert!(h.contains("[default: all of them]"), "{h}");
    // And an unknown name is refused before any run, with the choices.
    let out = Command::new(EXE)
        .args(["compare", "--scenarios", "huge"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("50x64B"));
}

/// The examples live in the library crate; `cargo test` builds them next
/// to this test's directory.
fn example(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join(name);
    p.exists().then_some(p)
}

#[test]
fn the_examples_refuse_a_bad_port_instead_of_using_5150() {
    for name in [
        "event_server",
        "routine_server",
        "port_server",
        "accept_ex_server",
    ] {
        let Some(path) = example(name) else {
            eprintln!("{name} not built: skipped");
            continue;
        };
        for bad in ["abc", "99999", "-1"] {
            let out = Command::new(&path)
                .arg(bad)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name} {bad}: {err}");
            assert!(err.contains(bad) && err.contains("usage"), "{err}");
            assert!(
                !text(&out.stdout).contains("listening"),
                "{name} {bad} listened"
            );
        }
    }
}

#[test]
fn change_cost_refuses_a_bad_count_instead_of_using_1000() {
    let Some(path) = example("change_cost") else {
        eprintln!("change_cost not built: skipped");
        return;
    };
    for bad in ["abc", "0", "99999999999999999999", "1000001", "-1"] {
        let out = Command::new(&path)
            .arg(bad)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "change_cost {bad}: {err}");
        assert!(err.contains(bad) && err.contains("usage"), "{err}");
        assert!(text(&out.stdout).is_empty(), "change_cost {bad} ran");
    }
    let out = Command::new(&path)
        .args(["1", "2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an extra argument");
}
