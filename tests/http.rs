//! `overlapped http` judged by a real client (curl) and by raw requests:
//! every byte of a generated tree, ranges, conditional requests,
//! keep-alive and pipelining, malformed requests, and every way a path
//! could try to leave the root.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{logged, ServerProcess};

/// A generated root, removed on drop.
struct Tree {
    dir: PathBuf,
}

impl Tree {
    /// The tree; the 64 MiB file only where it is fetched (`with_big`).
    fn new(name: &str) -> Tree {
        Tree::make(name, false)
    }

    fn with_big(name: &str) -> Tree {
        Tree::make(name, true)
    }

    fn make(name: &str, big: bool) -> Tree {
        let dir = std::env::temp_dir().join(format!("ovl-http-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/sub/deeper")).unwrap();
        let files: [(&str, usize); 5] = [
            ("empty.txt", 0),
            ("one.bin", 1),
            ("sub/page.html", 4096),
            ("sub/deeper/mib.bin", 1 << 20),
            ("big.bin", 64 << 20),
        ];
        for (i, (path, len)) in files.iter().enumerate() {
            if *len > 1 << 20 && !big {
                continue;
            }
            let data: Vec<u8> = (0..*len)
                .map(|k| {
                    (k as u32)
                        .wrapping_mul(2_654_435_761)
                        .rotate_left(i as u32 + 3) as u8
                })
                .collect();
            std::fs::write(dir.join("root").join(path), data).unwrap();
        }
        std::fs::write(dir.join("secret.txt"), b"outside the root").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/escape.txt")).unwrap();
        std::os::unix::fs::symlink(dir.join("root/one.bin"), dir.join("root/sub/link.bin"))
            .unwrap();
        Tree { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(tree: &Tree, model: &str, extra: &[&str]) -> ServerProcess {
    let root = tree.root();
    let mut args = vec![
        "http",
        "--root",
        root.to_str().unwrap(),
        "--port",
        "0",
        "--model",
        model,
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(&args)
}

/// Every file of the tree fetched by curl over one keep-alive connection,
/// compared byte for byte.
fn fetch_tree(model: &str, extra: &[&str]) {
    let tree = Tree::with_big(&format!("tree-{model}{}", extra.concat()));
    let server = start(&tree, model, extra);
    let out = tree.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let files = [
        "empty.txt",
        "one.bin",
        "sub/page.html",
        "sub/deeper/mib.bin",
        "big.bin",
        "sub/link.bin",
    ];
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--fail", "--max-time", "120"]);
    for (i, f) in files.iter().enumerate() {
        cmd.arg("-o").arg(out.join(i.to_string()));
        cmd.arg(format!("http://{}/{f}", server.addr));
    }
    let status = cmd.status().expect("curl runs");
    assert!(status.success(), "curl failed: {status}");
    for (i, f) in files.iter().enumerate() {
        let want = std::fs::read(tree.root().join(f)).unwrap();
        let got = std::fs::read(out.join(i.to_string())).unwrap();
        assert!(got == want, "{f}: {} bytes, want {}", got.len(), want.len());
    }
    server.stop_cleanly();
}

#[test]
fn curl_fetches_every_file_of_a_tree_event_model() {
    fetch_tree("event", &[]);
}

#[test]
fn curl_fetches_every_file_of_a_tree_routine_model() {
    fetch_tree("routine", &[]);
}

#[test]
fn curl_fetches_every_file_of_a_tree_port_model_one_thread() {
    fetch_tree("port", &["--threads", "1"]);
}

#[test]
fn curl_fetches_every_file_of_a_tree_port_model_two_threads() {
    fetch_tree("port", &["--threads", "2"]);
}

/// `--notsent-lowat`: the system's default (0) and a small bound (every
/// send of the 64 MiB file then waits for the client many times over).
#[test]
fn curl_fetches_every_file_with_notsent_lowat_off_and_small() {
    fetch_tree("event", &["--notsent-lowat", "0"]);
    fetch_tree("routine", &["--notsent-lowat", "4096"]);
}

/// Sends `request` (raw bytes) and reads until the server closes.
/// `--nonblocking false`: every answer, small ones included, through the
/// pipe and the ring (the other tests run with the default, where small
/// cached answers go inline).
#[test]
fn curl_fetches_every_file_with_connections_left_blocking() {
    fetch_tree("event", &["--nonblocking", "false"]);
    fetch_tree("port", &["--threads", "2", "--nonblocking", "false"]);
}

fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(&response[..response.len().min(64)]).to_string();
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

fn get(addr: &str, target: &str) -> Vec<u8> {
    exchange(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

fn body(response: &[u8]) -> &[u8] {
    let at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head")
        + 4;
    &response[at..]
}

#[test]
fn no_path_leaves_the_root() {
    for (model, extra) in [
        ("event", &[][..]),
        ("routine", &[]),
        ("port", &["--threads", "1"]),
        ("port", &["--threads", "2"]),
    ] {
        let tree = Tree::new(&format!("traversal-{model}{}", extra.concat()));
        let server = start(&tree, model, extra);
        let a = server.addr.as_str();
        for target in [
            "/../secret.txt",
            "/sub/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/sub/%2e%2e/%2e%2e/secret.txt",
            "/.%2e/secret.txt",
            "/escape.txt",
        ] {
            let r = get(a, target);
            assert_eq!(status_of(&r), 403, "{model} {target}");
            assert!(
                !r.windows(7).any(|w| w == b"outside"),
                "{target} leaked the file"
            );
        }
        for target in ["/one%00.bin", "/%00", "/sub/%zz"] {
            assert_eq!(status_of(&get(a, target)), 400, "{model} {target}");
        }
        // A raw NUL byte in the request line: malformed.
        assert_eq!(
            status_of(&exchange(a, b"GET /one\0.bin HTTP/1.1\r\nHost: x\r\n\r\n")),
            400
        );
        assert_eq!(status_of(&get(a, "/nothing-here")), 404);
        // The absolute form names the same path (RFC 9112 §3.2.2: a server
        // must accept it); its authority changes nothing.
        let r = get(a, "http://example.com/one.bin");
        assert_eq!(status_of(&r), 200);
        assert_eq!(
            body(&r),
            std::fs::read(tree.root().join("one.bin")).unwrap()
        );
        assert_eq!(status_of(&get(a, "HTTP://example.com/../secret.txt")), 403);
        assert_eq!(status_of(&get(a, "ftp://example.com/one.bin")), 400);
        // A file named as a directory is not found (open(2): ENOTDIR).
        assert_eq!(status_of(&get(a, "/one.bin/")), 404);
        assert_eq!(status_of(&get(a, "/one.bin/.")), 404);
        // A symlink that stays inside the root is served.
        let r = get(a, "/sub/link.bin");
        assert_eq!(status_of(&r), 200);
        assert_eq!(
            body(&r),
            std::fs::read(tree.root().join("one.bin")).unwrap()
        );
        server.stop_cleanly();
    }
}

#[test]
fn malformed_and_refused_requests() {
    for (model, threads) in [("event", None), ("port", Some("1")), ("port", Some("2"))] {
        malformed_and_refused(model, threads);
    }
}

fn malformed_and_refused(model: &str, threads: Option<&str>) {
    let tree = Tree::new(&format!("malformed-{model}{}", threads.unwrap_or("")));
    let mut extra = vec!["--max-header", "1024"];
    if let Some(n) = threads {
        extra.extend(["--threads", n]);
    }
    let server = start(&tree, model, &extra);
    let a = server.addr.as_str();
    assert_eq!(status_of(&exchange(a, b"GARBAGE\r\n\r\n")), 400);
    assert_eq!(
        status_of(&exchange(a, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")),
        400
    );
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..100 {
        big.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(20)).as_bytes());
    }
    big.extend_from_slice(b"\r\n");
    assert_eq!(status_of(&exchange(a, &big)), 431);
    // A request line longer than the limit by itself: the target is too
    // long (414), whether or not the rest has arrived.
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(2000));
    assert_eq!(status_of(&exchange(a, long.as_bytes())), 414);
    let partial = format!("GET /{}", "a".repeat(2000));
    assert_eq!(status_of(&exchange(a, partial.as_bytes())), 414);
    let r = exchange(
        a,
        b"POST /one.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(status_of(&r), 405);
    assert!(String::from_utf8_lossy(&r).contains("Allow: GET, HEAD"));
    server.stop_cleanly();
}

#[test]
fn ranges_conditional_requests_and_head() {
    let tree = Tree::new("range");
    let server = start(&tree, "routine", &[]);
    let a = server.addr.as_str();
    let data = std::fs::read(tree.root().join("sub/deeper/mib.bin")).unwrap();
    let r = exchange(a, b"GET /sub/deeper/mib.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-1999\r\nConnection: close\r\n\r\n");
    assert_eq!(status_of(&r), 206);
    assert!(String::from_utf8_lossy(&r).contains("Content-Range: bytes 1000-1999/1048576"));
    assert_eq!(body(&r), &data[1000..2000]);
    let r = exchange(a, b"GET /sub/deeper/mib.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-10\r\nConnection: close\r\n\r\n");
    assert_eq!(body(&r), &data[data.len() - 10..]);
    let r = exchange(
        a,
        b"GET /one.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5-\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&r), 416);
    assert!(String::from_utf8_lossy(&r).contains("Content-Range: bytes */1"));
    // If-Modified-Since: not modified since a later date; modified since an older one.
    let later = httpdate_in(3600);
    let r = exchange(a, format!("GET /one.bin HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: {later}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(status_of(&r), 304);
    assert!(body(&r).is_empty());
    let r = exchange(a, b"GET /one.bin HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\nConnection: close\r\n\r\n");
    assert_eq!(status_of(&r), 200);
    let r = exchange(
        a,
        b"HEAD /sub/page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&r);
    assert!(text.contains("Content-Length: 4096"), "{text}");
    assert!(text.contains("Content-Type: text/html"), "{text}");
    assert!(text.contains("Last-Modified: "), "{text}");
    assert!(body(&r).is_empty());
    server.stop_cleanly();
}

/// The bodies of consecutive responses, each as long as its Content-Length.
fn bodies(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(at) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..at]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("Content-Length")
            .parse()
            .unwrap();
        out.extend_from_slice(&rest[at + 4..at + 4 + len]);
        rest = &rest[at + 4 + len..];
    }
    out
}

fn httpdate_in(secs: u64) -> String {
    // RFC 1123 date `secs` from now, via `date` (no extra dependency in tests).
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("+{secs} seconds"),
            "+%a, %d %b %Y %H:%M:%S GMT",
        ])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn keep_alive_pipelining_and_the_request_limit() {
    for (model, threads) in [("event", None), ("port", Some("2"))] {
        pipelining(model, threads);
    }
}

fn pipelining(model: &str, threads: Option<&str>) {
    let tree = Tree::new(&format!("pipeline-{model}"));
    let mut extra = vec!["--max-requests", "3"];
    if let Some(n) = threads {
        extra.extend(["--threads", n]);
    }
    let server = start(&tree, model, &extra);
    let a = server.addr.as_str();
    let one = std::fs::read(tree.root().join("one.bin")).unwrap();
    let page = std::fs::read(tree.root().join("sub/page.html")).unwrap();
    // Three requests in one write; the third reaches the limit and closes.
    let r = exchange(
        a,
        b"GET /one.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/page.html HTTP/1.1\r\nHost: x\r\n\r\nGET /one.bin HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&r).to_string();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert_eq!(text.matches("Connection: close").count(), 1);
    let mut want = Vec::new();
    for b in [&one, &page, &one] {
        want.extend_from_slice(b);
    }
    let bodies = bodies(&r);
    assert_eq!(bodies, want, "answers in request order");
    // HTTP/1.0 without keep-alive: one answer, then the end of the stream.
    let r = exchange(a, b"GET /one.bin HTTP/1.0\r\n\r\n");
    assert_eq!(status_of(&r), 200);
    assert_eq!(body(&r), &one[..]);
    server.stop_cleanly();
}

#[test]
fn threads_apply_to_the_port_model_only() {
    let out = Command::new(common::EXE)
        .args(["http", "--root", "/", "--model", "event", "--threads", "2"])
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"));
}

#[test]
fn a_missing_root_is_a_clear_error() {
    let out = Command::new(common::EXE)
        .args(["http", "--root", "/definitely/not/here", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--root /definitely/not/here"), "{err}");
}

/// The server's open descriptors.
/// The server's open descriptors: (sockets, the rest).
fn fds(pid: u32) -> (usize, usize) {
    // Sockets with a TCP endpoint (listening or connected, in any state up
    // to the close) are listed in /proc/net/tcp*; an unbound socket (the
    // accept thread's next target, made before the next connection comes)
    // is not, and counts with the other descriptors.
    let mut tcp = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            if let Some(inode) = line.split_whitespace().nth(9) {
                tcp.insert(format!("socket:[{inode}]"));
            }
        }
    }
    let mut counts = (0, 0);
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let Ok(target) = std::fs::read_link(e.unwrap().path()) else {
            continue; // closed while listed
        };
        if tcp.contains(&*target.to_string_lossy()) {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
    counts
}

/// Waits (up to 20 s) until the server has at most `want` descriptors
/// (sockets, the rest; or `(usize::MAX, n)`: `n` in all).
fn fds_back_to(pid: u32, want: (usize, usize), model: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = fds(pid);
        // (usize::MAX, n): n descriptors in all.
        let total = want.0 == usize::MAX && now.0 + now.1 <= want.1;
        if total || (now.0 <= want.0 && now.1 <= want.1) {
            return;
        }
        if Instant::now() >= deadline {
            let list: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .filter_map(|e| {
                    let e = e.ok()?;
                    let to = std::fs::read_link(e.path()).ok()?;
                    Some(format!(
                        "{}->{}",
                        e.file_name().to_string_lossy(),
                        to.display()
                    ))
                })
                .collect();
            panic!(
                "{model}: (sockets, other descriptors): {now:?}, want at most {want:?}: {list:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads until the server closes; panics if it has not within 20 s.
fn closed_by_server(mut s: TcpStream, what: &str) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!("{what}: not closed by the server: {e}"),
    }
}

/// Slowloris: silent clients, a half request line and an idle keep-alive
/// connection are all closed after their (short) timeouts, with a log
/// line each, and the server's descriptors go back to where they were.
#[test]
fn idle_and_slow_connections_are_closed() {
    for (model, extra) in [
        ("event", &[][..]),
        ("routine", &[]),
        ("port", &["--threads", "2"]),
    ] {
        let tree = Tree::new(&format!("slow-{model}{}", extra.concat()));
        let log = tree.dir.join("log");
        let root = tree.root();
        let mut args = vec!["http", "--root", root.to_str().unwrap(), "--port", "0"];
        args.extend(["--model", model, "--header-timeout", "0.5"]);
        args.extend(["--idle-timeout", "0.7"]);
        args.extend_from_slice(extra);
        let server = ServerProcess::start_logged(&args, &log);
        let a = server.addr.as_str();
        // One served request first: the port model's accepts are all posted.
        assert_eq!(status_of(&get(a, "/one.bin")), 200);
        // Every socket of the 22 connections closed must go: as many TCP
        // sockets as now, exactly. Other descriptors may come once: a
        // worker's ring set up at its first packet (ring and eventfd), a
        // pooled pipe for TransmitFile (two), the /dev/null that keeps a
        // closed socket's number while the kernel finishes with it (one),
        // the accept thread's next (unbound) target socket (one).
        let (sockets, rest) = fds(server.pid());
        let before = (sockets, rest + 6);
        let silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(a).unwrap()).collect();
        let mut half = TcpStream::connect(a).unwrap();
        half.write_all(b"GET /one HTTP/1.1\r\nHo").unwrap();
        let mut idle = TcpStream::connect(a).unwrap();
        idle.write_all(b"GET /one.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        for s in silent {
            assert!(closed_by_server(s, "silent").is_empty(), "{model}");
        }
        assert!(closed_by_server(half, "half").is_empty(), "{model}");
        let r = closed_by_server(idle, "idle");
        assert_eq!(status_of(&r), 200, "{model}: the request was answered");
        fds_back_to(server.pid(), before, model);
        logged(&log, "closed: header timeout", 21);
        logged(&log, "closed: idle timeout", 1);
        // Still serving.
        assert_eq!(status_of(&get(a, "/one.bin")), 200);
        server.stop_cleanly();
    }
}

/// A file cut short while it is being sent, and a client that resets in
/// the middle of an answer: the connection ends, with a log line each.
#[test]
fn failed_transfers_are_logged() {
    for (model, extra) in [
        ("event", &[][..]),
        ("routine", &[]),
        ("port", &["--threads", "2"]),
    ] {
        let tree = Tree::new(&format!("fail-{model}{}", extra.concat()));
        let log = tree.dir.join("log");
        let path = tree.root().join("cut.bin");
        std::fs::write(&path, vec![7u8; 64 << 20]).unwrap();
        let root = tree.root();
        let mut args = vec!["http", "--root", root.to_str().unwrap(), "--port", "0"];
        args.extend(["--model", model]);
        args.extend_from_slice(extra);
        let server = ServerProcess::start_logged(&args, &log);
        let a = server.addr.as_str();
        // Truncated while sent: the client gets less, then the end.
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(b"GET /cut.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 4096];
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.read(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1_000_000)
            .unwrap();
        let rest = closed_by_server(s, "truncated");
        assert!(rest.len() < 64 << 20, "{model}: {} bytes", rest.len());
        logged(&log, "TransmitFile failed", 1);
        // A reset in the middle of an answer.
        std::fs::write(&path, vec![7u8; 64 << 20]).unwrap();
        let s = TcpStream::connect(a).unwrap();
        let mut s = s;
        s.write_all(b"GET /cut.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.read(&mut first).unwrap();
        let sock = socket2::Socket::from(s);
        sock.set_linger(Some(Duration::ZERO)).unwrap();
        drop(sock);
        let text = logged(&log, "TransmitFile failed", 2);
        assert_eq!(status_of(&get(a, "/one.bin")), 200);
        assert!(
            !text.contains("(997)"),
            "a pending start is no error:\n{text}"
        );
        server.stop_cleanly();
    }
}

/// RFC corners: `bytes=5-2` is no range (the whole file), HTTP/1.1
/// without Host is a 400, and dot-segments that stay inside the root are
/// removed before the file is looked up.
#[test]
fn invalid_ranges_missing_host_and_dot_segments() {
    let tree = Tree::new("rfc");
    let server = start(&tree, "event", &[]);
    let a = server.addr.as_str();
    let page = std::fs::read(tree.root().join("sub/page.html")).unwrap();
    let r = exchange(
        a,
        b"GET /sub/page.html HTTP/1.1\r\nHost: x\r\nRange: bytes=5-2\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&r), 200);
    assert_eq!(body(&r), &page[..]);
    // A range-spec that is not one (no numbers): ignored as well, the
    // whole file (RFC 9110 §14.2), never 416.
    let r = exchange(
        a,
        b"GET /sub/page.html HTTP/1.1\r\nHost: x\r\nRange: bytes=abc\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&r), 200);
    assert_eq!(body(&r), &page[..]);
    let r = exchange(a, b"GET /one.bin HTTP/1.1\r\n\r\n");
    assert_eq!(status_of(&r), 400);
    // HTTP/1.0 needs no Host.
    assert_eq!(
        status_of(&exchange(a, b"GET /one.bin HTTP/1.0\r\n\r\n")),
        200
    );
    for target in [
        "/sub/../sub/page.html",
        "/sub/deeper/../page.html",
        "/sub/./page.html",
        "/sub/%2e%2e/sub/page.html",
    ] {
        let r = get(a, target);
        assert_eq!(status_of(&r), 200, "{target}");
        assert_eq!(body(&r), &page[..], "{target}");
    }
    assert_eq!(status_of(&get(a, "/sub/../../secret.txt")), 403);
    assert_eq!(status_of(&get(a, "/sub/../..")), 403);
    server.stop_cleanly();
}

/// The second line of output names the backend, and `--backend` picks it
/// (as `serve` does): a server operator in a container sees which runs.
#[test]
fn the_second_line_names_the_backend_and_backend_picks_it() {
    use std::io::{BufRead, BufReader};
    let tree = Tree::new("backend-line");
    let root = tree.root();
    for (pick, want) in [(None, "backend: "), (Some("epoll"), "backend: epoll")] {
        let mut args = vec!["http", "--root", root.to_str().unwrap(), "--port", "0"];
        if let Some(b) = pick {
            args.extend(["--backend", b]);
        }
        let mut child = Command::new(common::EXE)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut first, mut second) = (String::new(), String::new());
        out.read_line(&mut first).unwrap();
        out.read_line(&mut second).unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        assert!(second.starts_with(want), "{pick:?}: {second:?}");
        assert_eq!(status_of(&get(&addr, "/one.bin")), 200, "{pick:?}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A FIFO (or any file that is not a regular file) under the root is
/// refused at once (403), without waiting for a writer: the server goes on
/// answering, and stops cleanly.
#[test]
fn a_fifo_under_the_root_is_refused_without_blocking() {
    for (model, extra) in [
        ("event", &[][..]),
        ("routine", &[]),
        ("port", &["--threads", "1"]),
    ] {
        let tree = Tree::new(&format!("fifo-{model}"));
        let fifo = tree.root().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let server = start(&tree, model, extra);
        let a = server.addr.as_str();
        for _ in 0..3 {
            assert_eq!(status_of(&get(a, "/pipe")), 403, "{model}");
            let r = get(a, "/one.bin");
            assert_eq!(status_of(&r), 200, "{model}");
            assert_eq!(
                body(&r),
                std::fs::read(tree.root().join("one.bin")).unwrap()
            );
        }
        server.stop_cleanly();
    }
}
