//! The load generator against the built-in tokio echo server, and its failure modes.

use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{ServerProcess, EXE};

/// Runs the program with `args`, killing it if it takes longer than `limit`.
fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(EXE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start overlapped");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("overlapped {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON line expected, got {stdout:?}"
    );
    serde_json::from_str(lines[0]).expect("valid JSON")
}

/// `serve-tokio` on a free loopback port; on drop it must stop on SIGTERM.
struct Server(Option<ServerProcess>);

impl Server {
    fn start() -> Server {
        Server::start_proto("tcp")
    }

    fn start_proto(proto: &str) -> Server {
        Server(Some(ServerProcess::start(&[
            "serve-tokio",
            "--addr",
            "127.0.0.1",
            "--port",
            "0",
            "--proto",
            proto,
        ])))
    }

    fn addr(&self) -> &str {
        &self.0.as_ref().unwrap().addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let server = self.0.take().unwrap();
        if std::thread::panicking() {
            return; // dropping it kills it
        }
        server.stop_cleanly();
    }
}

#[test]
fn bench_against_tokio_reports_json() {
    let server = Server::start();
    let out = run(
        &[
            "bench",
            "--addr",
            server.addr(),
            "--conns",
            "8",
            "--size",
            "100",
            "--depth",
            "4",
        ]
        .into_iter()
        .chain(["--secs", "1", "--warmup", "0.2", "--json"])
        .collect::<Vec<_>>(),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert!(v["msgs"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    assert_eq!(v["connected"].as_u64(), Some(8), "{v}");
    assert!(v["error"].is_null(), "{v}");
    for key in [
        "msgs_per_sec",
        "mb_per_sec",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
    ] {
        assert!(v[key].is_number(), "{key} missing: {v}");
    }
    assert!(v["p50_us"].as_u64() <= v["p99_us"].as_u64());
}

#[test]
fn bench_paced_against_tokio() {
    let server = Server::start();
    let args = [
        "bench",
        "--addr",
        server.addr(),
        "--conns",
        "10",
        "--rate",
        "2000",
    ];
    let more = ["--secs", "1", "--warmup", "0.1", "--json"];
    let out = run(&[&args[..], &more[..]].concat(), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let msgs = v["msgs"].as_u64().unwrap();
    assert!(
        msgs > 0 && msgs <= 2200,
        "paced run sent {msgs} messages in 1 s at 2000/s"
    );
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
}

#[test]
fn bench_udp_against_tokio() {
    let server = Server::start_proto("udp");
    let args = [
        "bench",
        "--proto",
        "udp",
        "--addr",
        server.addr(),
        "--conns",
        "4",
    ];
    let more = ["--secs", "1", "--warmup", "0.1", "--json"];
    let out = run(&[&args[..], &more[..]].concat(), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["proto"], "udp");
    assert!(v["msgs"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    assert!(v["lost"].is_u64(), "{v}");
}

#[test]
fn bench_udp_without_server_ends_with_error() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let args = [
        "bench", "--proto", "udp", "--addr", &addr, "--conns", "2", "--secs", "10",
    ];
    let more = ["--stall-timeout", "1", "--loss-timeout", "0.2", "--json"];
    let out = run(&[&args[..], &more[..]].concat(), Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert!(
        v["error"].as_str().unwrap().contains("stopped answering"),
        "{v}"
    );
}

#[test]
fn bench_refuses_non_loopback() {
    for addr in [
        "10.0.0.1:7",
        "192.168.1.1:7",
        "8.8.8.8:53",
        "[2001:db8::1]:7",
        "example.com:7",
    ] {
        let out = run(
            &["bench", "--addr", addr, "--secs", "1"],
            Duration::from_secs(10),
        );
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("loopback"), "{addr}: {err}");
        assert!(!err.contains("panicked"), "{addr}: {err}");
    }
}

#[test]
fn bench_without_listener_ends_with_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let out = run(
        &["bench", "--addr", &addr, "--secs", "1", "--json"],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["connected"].as_u64(), Some(0));
    assert!(v["errors"].as_u64().unwrap() > 0);
    assert!(v["error"].as_str().unwrap().contains("refused"), "{v}");
}

#[test]
fn bench_stops_when_server_stops_answering() {
    // Accepts connections and never reads from them.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepter = std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(listener.accept().unwrap());
        }
        std::thread::sleep(Duration::from_secs(4));
    });
    let args = [
        "bench", "--addr", &addr, "--conns", "4", "--secs", "10", "--warmup", "0",
    ];
    let more = ["--stall-timeout", "1", "--json"];
    let started = Instant::now();
    let out = run(&[&args[..], &more[..]].concat(), Duration::from_secs(8));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert!(
        v["error"].as_str().unwrap().contains("stopped answering"),
        "{v}"
    );
    accepter.join().unwrap();
}

/// `serve-uring`, the hand-written io_uring loop `compare` measures as the floor: it echoes
/// what the load generator sends (the generator checks every byte) and stops on SIGTERM.
#[test]
fn bench_against_the_bare_uring_loop() {
    let server = ServerProcess::start(&["serve-uring", "--addr", "127.0.0.1", "--port", "0"]);
    let out = run(
        &[
            "bench",
            "--addr",
            &server.addr,
            "--conns",
            "20",
            "--size",
            "100",
            "--secs",
            "0.3",
            "--json",
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert!(v["msgs"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    server.stop_cleanly();
}
