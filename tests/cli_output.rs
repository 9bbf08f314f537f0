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

#[test]
fn compare_stops_at_once_when_the_library_cannot_start() {
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
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bogus"), "the reason: {stderr}");
    assert!(!stderr.contains("round 1"), "no run starts: {stderr}");
}

#[test]
fn soak_names_its_servers_backend_and_stops_when_there_is_none() {
    let out = Command::new(EXE)
        .args(["soak", "--secs", "1"])
        .env("OVERLAPPED_BACKEND", "bogus")
        .output()
        .expect("run soak");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("soak servers' backend: none ("),
        "{stdout}"
    );
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
