//! How the program talks to its user: the backend line names the option
//! that forced the backend, and a closed stdout ends it quietly.

mod common;

use common::EXE;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serve_backend_option_is_named_as_what_forced_the_backend() {
    let mut child = Command::new(EXE)
        .args(["serve", "--backend", "epoll", "--port", "0"])
        .env_remove("OVERLAPPED_BACKEND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    out.read_line(&mut first).unwrap();
    out.read_line(&mut second).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("listening on "), "{first:?}");
    assert_eq!(second.trim(), "backend: epoll (forced by --backend epoll)");
}

#[test]
fn a_closed_stdout_ends_compare_quietly() {
    // `overlapped compare ... | head -1`: the reader is gone before the
    // table is printed.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(EXE)
        .args([
            "compare",
            "--secs",
            "0.3",
            "--rounds",
            "1",
            "--servers",
            "event",
        ])
        .args(["--scenarios", "50x64B"])
        .stdin(Stdio::null())
        .stdout(writer)
        .output()
        .expect("run compare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(141),
        "as if killed by SIGPIPE: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A bad `OVERLAPPED_BACKEND` is a usage error (exit 2, as a bad `--backend`): `compare`
/// and `soak` stop before anything starts, naming the value. (Where the library itself
/// cannot start, io_uring forced under a seccomp filter, they stop with exit 1 and the
/// reason: tests/no_io_uring.rs, `compare_and_soak_stop_at_once_when_the_library_cannot_start`.)
#[test]
fn compare_refuses_a_bad_backend_variable_before_any_run() {
    let out = Command::new(EXE)
        .args([
            "compare",
            "--secs",
            "0.3",
            "--rounds",
            "1",
            "--servers",
            "event,tokio",
        ])
        .env("OVERLAPPED_BACKEND", "bogus")
        .output()
        .expect("run compare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bogus"), "the reason: {stderr}");
    assert!(!stderr.contains("round 1"), "no run starts: {stderr}");
}

#[test]
fn soak_refuses_a_bad_backend_variable_before_starting() {
    let out = Command::new(EXE)
        .args(["soak", "--secs", "1"])
        .env("OVERLAPPED_BACKEND", "bogus")
        .output()
        .expect("run soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "nothing starts: {stdout}");
    assert!(stderr.contains("bogus"), "{stderr}");
}

#[test]
fn connect_rate_says_which_backend_it_runs_on() {
    let server = common::ServerProcess::start(&["serve", "--port", "0"]);
    let run = |json: bool| {
        let mut cmd = Command::new(EXE);
        cmd.args(["bench", "--connect-rate", "--addr", &server.addr])
            .args(["--connections", "20", "--conns", "2"])
            .env_remove("OVERLAPPED_BACKEND");
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("run bench --connect-rate");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run(false);
    assert!(
        text.lines().any(|l| l.starts_with("backend: ")),
        "a backend line: {text}"
    );
    let json: serde_json::Value = serde_json::from_str(run(true).trim()).unwrap();
    let backend = json["backend"].as_str().expect("a backend field");
    assert!(
        backend.starts_with("uring (") || backend.starts_with("epoll ("),
        "{backend}"
    );
}
