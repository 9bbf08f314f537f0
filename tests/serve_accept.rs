//! `serve --accept ex`: the servers take connections with AcceptEx posted by
//! their worker, so there is no accepting thread (checked in
//! `/proc/PID/task/*/comm`), and a storm of ConnectEx clients from one
//! thread is echoed byte for byte (`bench --connect-rate`, which checks every
//! byte and exits non-zero on any error or mismatch).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, EXE};

fn thread_names(pid: u32) -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let comm = task.unwrap().path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            names.push(name.trim().to_string());
        }
    }
    names.sort();
    names
}

fn echo_once(addr: &str, msg: &[u8]) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

#[test]
fn accept_ex_servers_have_no_accepting_thread() {
    for model in ["event", "routine"] {
        let server = ServerProcess::start(&["serve", "--model", model, "--port", "0"]);
        echo_once(&server.addr, b"hello");
        let names = thread_names(server.pid());
        assert!(
            !names.iter().any(|n| n == "accept"),
            "{model}: no accepting thread expected, threads: {names:?}"
        );
        server.stop_cleanly();
        // The book's style, for contrast: the check does see that thread.
        let server = ServerProcess::start(&[
            "serve", "--model", model, "--accept", "thread", "--port", "0",
        ]);
        echo_once(&server.addr, b"hello");
        let names = thread_names(server.pid());
        assert!(
            names.iter().any(|n| n == "accept"),
            "{model} --accept thread: {names:?}"
        );
        server.stop_cleanly();
    }
}

/// Runs `bench --connect-rate` against `addr`: `n` connections, every byte
/// checked; returns its JSON report.
fn connect_storm(addr: &str, n: usize) -> serde_json::Value {
    let mut child = Command::new(EXE)
        .args([
            "bench",
            "--connect-rate",
            "--json",
            "--conns",
            "64",
            "--size",
            "100",
        ])
        .args(["--connections", &n.to_string(), "--addr", addr])
        .args(["--stall-timeout", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the connect storm did not finish in 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[test]
fn a_connect_ex_storm_is_echoed_with_first_data_by_both_models() {
    // 10,000 in the bench (`bench --connect-rate`); fewer here to stay quick.
    let n = 2000;
    for model in ["event", "routine"] {
        let server = ServerProcess::start(&[
            "serve",
            "--model",
            model,
            "--first-data",
            "--backlog-posts",
            "16",
            "--port",
            "0",
        ]);
        let report = connect_storm(&server.addr, n);
        assert_eq!(report["connections"].as_u64(), Some(n as u64), "{report}");
        assert_eq!(report["errors"].as_u64(), Some(0), "{report}");
        assert_eq!(report["mismatches"].as_u64(), Some(0), "{report}");
        // Still serving after the storm, and stopping cleanly.
        echo_once(&server.addr, b"after the storm");
        server.stop_cleanly();
    }
}

#[test]
fn without_first_data_the_accepted_client_is_echoed_too() {
    let server = ServerProcess::start(&["serve", "--model", "event", "--port", "0"]);
    let report = connect_storm(&server.addr, 500);
    assert_eq!(report["connections"].as_u64(), Some(500), "{report}");
    server.stop_cleanly();
}

#[test]
fn accept_options_need_accept_ex() {
    let out = Command::new(EXE)
        .args(["serve", "--accept", "thread", "--first-data", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--accept ex"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The library's examples are built next to this test's directory.
fn example(name: &str) -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join(name);
    p.exists().then_some(p)
}

#[test]
fn the_accept_ex_example_recycles_its_sockets() {
    let Some(path) = example("accept_ex_server") else {
        eprintln!("accept_ex_server not built: skipped");
        return;
    };
    let mut child = Command::new(path)
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .unwrap()
            .count()
    };
    echo_once(&addr, b"warm");
    std::thread::sleep(Duration::from_millis(100));
    let before = fds();
    // More clients than posted sockets: each socket serves several, reused
    // by DisconnectEx(TF_REUSE_SOCKET); the descriptors stay the same.
    for i in 0..64 {
        echo_once(&addr, format!("message {i}").as_bytes());
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fds(), before, "no socket created or closed in steady state");
    let _ = child.kill();
    let _ = child.wait();
}
