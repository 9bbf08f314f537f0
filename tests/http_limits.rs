//! `overlapped http` under clients that would hold it: one that stops
//! reading an answer (the send timeout closes it), one that reads slowly
//! but steadily (served in full), and more connections than `--max-conns`
//! (closed at once). Each in all three models, with the log lines checked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{logged, ServerProcess};

const MODELS: [(&str, &[&str]); 3] = [
    ("event", &[]),
    ("routine", &[]),
    ("port", &["--threads", "2"]),
];

/// A root with `big.bin` (24 MiB) and `one.bin` (1 byte), removed on drop.
struct Root {
    dir: PathBuf,
}

const BIG: usize = 24 << 20;

impl Root {
    fn new(name: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("ovl-httpl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        let big: Vec<u8> = (0..BIG).map(|k| (k as u32 % 251) as u8).collect();
        std::fs::write(dir.join("root/big.bin"), big).unwrap();
        std::fs::write(dir.join("root/one.bin"), b"1").unwrap();
        Root { dir }
    }

    fn start(&self, model: &str, extra: &[&str], more: &[&str]) -> ServerProcess {
        let root = self.dir.join("root");
        let mut args = vec!["http", "--root", root.to_str().unwrap(), "--port", "0"];
        args.extend(["--model", model]);
        args.extend_from_slice(extra);
        args.extend_from_slice(more);
        ServerProcess::start_logged(&args, &self.log())
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn request(s: &mut TcpStream, target: &str) {
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
}

/// One keep-alive exchange for `/one.bin` on `s`: the status.
fn one(s: &mut TcpStream) -> u16 {
    request(s, "/one.bin");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\r\n\r\n1") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got[9..12]).parse().unwrap()
}

/// Reads until the server closes (or resets); panics after 20 s.
fn closed_by_server(s: &mut TcpStream, what: &str) -> usize {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return total,
            Err(e) => panic!("{what}: not closed by the server: {e}"),
        }
    }
}

/// A client that asks for 24 MiB and never reads is closed after the send
/// timeout, with a log line, having got less than the answer; meanwhile a
/// client reading 1 MiB per 100 ms (2.4 s in all, longer than the 1.5 s
/// timeout, but every 1 MiB send completes in time) gets every byte.
#[test]
fn a_client_that_stops_reading_is_closed_one_that_reads_slowly_is_served() {
    for (model, extra) in MODELS {
        let root = Root::new(&format!("send-{model}"));
        let server = root.start(model, extra, &["--send-timeout", "1.5"]);
        let a = server.addr.as_str();
        let mut stalled = TcpStream::connect(a).unwrap();
        request(&mut stalled, "/big.bin");
        let mut slow = TcpStream::connect(a).unwrap();
        request(&mut slow, "/big.bin");
        slow.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut got = Vec::with_capacity(BIG + 512);
        let mut buf = vec![0u8; 1 << 20];
        let head_len = loop {
            let n = slow.read(&mut buf).unwrap();
            assert!(
                n > 0,
                "{model}: slow reader closed after {} bytes",
                got.len()
            );
            got.extend_from_slice(&buf[..n]);
            if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        while got.len() < head_len + BIG {
            let want = (head_len + BIG - got.len()).min(1 << 20);
            slow.read_exact(&mut buf[..want]).unwrap_or_else(|e| {
                panic!("{model}: slow reader cut after {} bytes: {e}", got.len())
            });
            got.extend_from_slice(&buf[..want]);
            std::thread::sleep(Duration::from_millis(100));
        }
        let body = &got[head_len..];
        assert!(
            body.iter()
                .enumerate()
                .all(|(k, b)| *b == (k as u32 % 251) as u8),
            "{model}: wrong bytes"
        );
        let text = logged(&root.log(), "closed: send timeout", 1);
        assert_eq!(text.matches("closed: send timeout").count(), 1, "{text}");
        let went = closed_by_server(&mut stalled, "stalled");
        assert!(went < BIG, "{model}: {went} bytes");
        assert!(
            !text.contains("failed"),
            "{model}: logged as a failure:\n{text}"
        );
        // Still serving, and the slow client's connection too.
        assert_eq!(one(&mut slow), 200, "{model}");
        server.stop_cleanly();
    }
}

/// With `--max-conns 3` a fourth connection is closed at once (nothing
/// read or sent), with a log line, while the three are served; once one
/// of them goes, a new connection is served.
#[test]
fn connections_beyond_max_conns_are_closed() {
    for (model, extra) in MODELS {
        let root = Root::new(&format!("cap-{model}"));
        let server = root.start(model, extra, &["--max-conns", "3"]);
        let a = server.addr.as_str();
        let mut three: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(a).unwrap()).collect();
        for s in &mut three {
            assert_eq!(one(s), 200, "{model}");
        }
        let mut fourth = TcpStream::connect(a).unwrap();
        assert_eq!(closed_by_server(&mut fourth, "fourth"), 0, "{model}");
        logged(&root.log(), "refused: 3 connections open (--max-conns)", 1);
        for s in &mut three {
            assert_eq!(one(s), 200, "{model}: the three are still served");
        }
        drop(three.pop());
        // The server sees the close when its receive completes: retry.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut s = TcpStream::connect(a).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            request(&mut s, "/one.bin");
            let mut first = [0u8; 12];
            if s.read_exact(&mut first).is_ok() {
                assert_eq!(&first[9..12], b"200", "{model}");
                break;
            }
            assert!(Instant::now() < deadline, "{model}: no room after a close");
            std::thread::sleep(Duration::from_millis(100));
        }
        server.stop_cleanly();
    }
}
