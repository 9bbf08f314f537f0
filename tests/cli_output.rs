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
