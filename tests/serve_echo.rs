//! The `serve --model event|routine` echo servers, end to end on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{ServerProcess, EXE};

fn start(model: &str) -> ServerProcess {
    let mut args = vec!["serve", "--addr", "127.0.0.1", "--port", "0", "--model"];
    args.extend(model.split(' '));
    ServerProcess::start(&args)
}

/// A few clients with messages from 1 byte to 200 KiB, each checked.
fn mixed_sizes(addr: &str) {
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let addr = addr.to_string();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                for (i, size) in [1usize, 7, 64, 1500, 4096, 4097, 65_536, 200_000]
                    .into_iter()
                    .enumerate()
                {
                    let msg: Vec<u8> = (0..size).map(|k| (k * 31 + i * 7 + c) as u8).collect();
                    let writer = {
                        let mut w = s.try_clone().unwrap();
                        let m = msg.clone();
                        std::thread::spawn(move || w.write_all(&m).unwrap())
                    };
                    let mut back = vec![0u8; size];
                    s.read_exact(&mut back).unwrap();
                    writer.join().unwrap();
                    assert_eq!(back, msg, "client {c}, message {i} ({size} B)");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

/// 1,000 concurrent connections through the load generator, which checks
/// every byte that comes back.
fn thousand_clients(addr: &str) {
    let out = Command::new(EXE)
        .args([
            "bench", "--addr", addr, "--conns", "1000", "--size", "64", "--depth", "2", "--secs",
            "2", "--warmup", "0", "--json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(v["connected"], 1000, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    // Echoes came back (how many in 2 s depends on the machine's load: no threshold).
    assert!(v["msgs"].as_u64().unwrap() > 0, "{v}");
}

fn echo(model: &str) {
    let server = start(model);
    mixed_sizes(&server.addr);
    thousand_clients(&server.addr);
    // A client that closes mid-stream does not disturb the others.
    {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.write_all(b"half").unwrap();
    }
    mixed_sizes(&server.addr);
    server.stop_cleanly();
}

#[test]
fn event_model_echo() {
    echo("event");
}

#[test]
fn routine_model_echo() {
    echo("routine");
}

#[test]
fn async_model_echo() {
    echo("async");
}

#[test]
fn async_model_echo_with_an_accepting_thread() {
    echo("async --accept thread");
}

#[test]
fn async_model_echo_with_first_data_and_few_posts() {
    echo("async --first-data --backlog-posts 2");
}

#[test]
fn async_model_is_tcp_only() {
    let out = Command::new(EXE)
        .args(["serve", "--model", "async", "--proto", "udp", "--port", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--model async serves TCP only"), "{err}");
}

#[test]
fn port_model_echo_one_thread() {
    echo("port --threads 1");
}

#[test]
fn port_model_echo_two_threads() {
    echo("port --threads 2");
}

#[test]
fn port_model_echo_with_an_accepting_thread() {
    echo("port --threads 2 --accept thread");
}

#[test]
fn port_model_echo_with_first_data_and_few_posts() {
    echo("port --threads 2 --first-data --backlog-posts 2");
}

/// Raises this process's descriptor limit to its hard limit.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write a live rlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// 10,000 clients connected at once to the completion-port server, each
/// sending its own 64-byte messages (two rounds) and checking every byte
/// that comes back.
#[test]
fn port_model_echoes_ten_thousand_clients() {
    const CLIENTS: usize = 10_000;
    const THREADS: usize = 16;
    let limit = raise_nofile();
    assert!(
        limit >= CLIENTS as u64 + 200,
        "this test needs {} descriptors (RLIMIT_NOFILE hard limit is {limit})",
        CLIENTS + 200
    );
    let server = start("port --threads 2");
    let addr = server.addr.clone();
    let per = CLIENTS / THREADS;
    let clients: Vec<_> = (0..THREADS)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..per)
                    .map(|_| {
                        let s = TcpStream::connect(&addr).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        s.set_nodelay(true).unwrap();
                        s
                    })
                    .collect();
                for round in 0..2u8 {
                    let msg = |i: usize| -> Vec<u8> {
                        let id = (t * per + i) as u32;
                        let mut m = id.to_le_bytes().to_vec();
                        m.extend((4..64).map(|k| (k as u8) ^ (id as u8) ^ round.wrapping_mul(91)));
                        m
                    };
                    for (i, s) in conns.iter_mut().enumerate() {
                        s.write_all(&msg(i)).unwrap();
                    }
                    for (i, s) in conns.iter_mut().enumerate() {
                        let mut back = [0u8; 64];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(
                            back.to_vec(),
                            msg(i),
                            "client {}, round {round}",
                            t * per + i
                        );
                    }
                }
                conns.len()
            })
        })
        .collect();
    let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert_eq!(served, CLIENTS);
    server.stop_cleanly();
}

#[test]
fn threads_without_the_port_model_is_a_clear_error() {
    let out = Command::new(EXE)
        .args(["serve", "--model", "event", "--threads", "2", "--port", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--threads applies to --model port"), "{err}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(EXE)
        .args(["serve", "--model", "event", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen"), "{err}");
}
