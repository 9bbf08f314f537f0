//! `overlapped watch` in a fresh network namespace: it shows address, route
//! and resolver changes made there (with ip(8) through nsenter(1), and a
//! resolver file in a temporary directory replaced by rename), and
//! `--count N` exits after N notifications.

mod common;
#[path = "../overlapped/tests/netns_util/mod.rs"]
mod netns_util;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::EXE;

struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    /// `overlapped watch ARGS` as the first process of a new network
    /// namespace (loopback up); returns once it says what it watches.
    fn start(args: &[&str]) -> Watcher {
        let mut child = Command::new("unshare")
            .args([
                "-n",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec \"$0\" \"$@\"",
                EXE,
                "watch",
            ])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let w = Watcher { child, lines };
        let first = w.next_line().expect("a first line");
        assert!(first.contains("watching"), "{first}");
        w
    }

    fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(20)).ok()
    }

    /// Runs `ip ARGS` in the watcher's namespace.
    fn ip(&self, args: &[&str]) {
        let pid = self.child.id().to_string();
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-n", "ip"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Reads lines until one satisfies `want` (20 s at most).
    fn expect(&self, what: &str, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let Some(line) = self.next_line() else { break };
            let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if want(&v) {
                return v;
            }
        }
        panic!("watch never reported {what}");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("overlapped-watch-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn watch_shows_address_route_and_resolver_changes() {
    if let Some(why) = netns_util::unavailable(&["unshare", "nsenter", "ip"]) {
        eprintln!("SKIPPED watch_shows_address_route_and_resolver_changes: no network namespace here ({why})");
        return;
    }
    let dir = temp_dir("all");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let files = hosts.to_string_lossy().into_owned();
    let w = Watcher::start(&[
        "--json",
        "--what",
        "addresses,routes,resolver",
        "--host",
        "localhost",
        "--resolver-files",
        &files,
        "--route-to",
        "198.51.100.7:0",
    ]);
    w.ip(&["addr", "add", "192.0.2.44/32", "dev", "lo"]);
    let a = w.expect("the new address", |v| {
        v["kind"] == "addresses"
            && v["addresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "192.0.2.44"))
    });
    assert_eq!(a["family"], "ipv4");
    w.ip(&[
        "route",
        "add",
        "198.51.100.0/24",
        "dev",
        "lo",
        "src",
        "192.0.2.44",
    ]);
    w.expect("the new route", |v| {
        v["kind"] == "routes" && v["local"] == "192.0.2.44"
    });
    // What a resolv.conf manager does: a new file renamed over the old.
    let tmp = dir.join("hosts.new");
    std::fs::write(&tmp, "127.0.0.1 localhost\n192.0.2.80 watched.test\n").unwrap();
    std::fs::rename(&tmp, &hosts).unwrap();
    w.expect("the resolver change", |v| v["kind"] == "resolver");
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn watch_count_exits_after_that_many_notifications() {
    if let Some(why) = netns_util::unavailable(&["unshare", "nsenter", "ip"]) {
        eprintln!("SKIPPED watch_count_exits_after_that_many_notifications: no network namespace here ({why})");
        return;
    }
    let mut w = Watcher::start(&["--what", "addresses", "--count", "1"]);
    w.ip(&["addr", "add", "127.0.0.9/32", "dev", "lo"]);
    let line = w.next_line().expect("one notification");
    assert!(
        line.starts_with("addresses ipv4:") && line.contains("127.0.0.9"),
        "{line}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = w.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "watch --count 1 did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn watch_survives_the_resolver_directory_being_removed_and_recreated() {
    if let Some(why) = netns_util::unavailable(&["unshare", "nsenter", "ip"]) {
        eprintln!("SKIPPED watch_survives_the_resolver_directory_being_removed_and_recreated: no network namespace here ({why})");
        return;
    }
    let top = temp_dir("recreate");
    let rf = top.join("rf");
    std::fs::create_dir_all(&rf).unwrap();
    let resolv = rf.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 192.0.2.53\n").unwrap();
    let files = resolv.to_string_lossy().into_owned();
    let w = Watcher::start(&["--json", "--what", "resolver", "--resolver-files", &files]);
    std::fs::remove_dir_all(&rf).unwrap();
    w.expect("the removal", |v| v["kind"] == "resolver");
    std::fs::create_dir_all(&rf).unwrap();
    // (The directory's return may be a line of its own, or come before the
    // next request, which then watches the new directory; a write then may
    // be seen in the state the line shows rather than as a line of its
    // own.) Write until a line comes, twice: the watch did not go deaf.
    for round in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "round {round}: no line");
            std::fs::write(&resolv, format!("nameserver 192.0.2.{round}\n")).unwrap();
            if let Ok(line) = w.lines.recv_timeout(Duration::from_millis(300)) {
                assert!(line.contains("\"resolver\""), "{line}");
                break;
            }
        }
    }
    drop(w);
    let _ = std::fs::remove_dir_all(&top);
}

#[test]
fn a_burst_of_changes_ends_with_a_line_that_shows_them_all() {
    if let Some(why) = netns_util::unavailable(&["unshare", "nsenter", "ip"]) {
        eprintln!("SKIPPED a_burst_of_changes_ends_with_a_line_that_shows_them_all: no network namespace here ({why})");
        return;
    }
    let w = Watcher::start(&["--json", "--what", "addresses"]);
    // Thirty addresses from one ip(8) process, as fast as it goes: changes
    // land while a notification is being handled. The request is posted
    // again before the state is read, so the last line has every address.
    let dir = temp_dir("burst");
    let batch = dir.join("batch");
    let lines: String = (1..=30)
        .map(|i| format!("addr add 10.9.0.{i}/32 dev lo\n"))
        .collect();
    std::fs::write(&batch, lines).unwrap();
    w.ip(&["-batch", &batch.to_string_lossy()]);
    w.expect("every address of the burst", |v| {
        v["kind"] == "addresses"
            && v["family"] == "ipv4"
            && v["addresses"].as_array().is_some_and(|a| {
                (1..=30).all(|i| a.iter().any(|x| *x == format!("10.9.0.{i}").as_str()))
            })
    });
    drop(w);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_route_to_is_said_in_words_not_as_an_address() {
    if let Some(why) = netns_util::unavailable(&["unshare", "nsenter", "ip"]) {
        eprintln!("SKIPPED an_unreachable_route_to_is_said_in_words_not_as_an_address: no network namespace here ({why})");
        return;
    }
    let w = Watcher::start(&["--what", "routes", "--route-to", "198.51.100.7:0"]);
    w.ip(&["addr", "add", "127.0.0.9/32", "dev", "lo"]);
    w.ip(&["route", "add", "192.0.2.0/24", "dev", "lo"]);
    let line = w.next_line().expect("a route line");
    assert!(
        line.starts_with("routes ipv4: to 198.51.100.7 unreachable (WSAENETUNREACH)"),
        "{line}"
    );
}

/// `overlapped watch ARGS` with only the checks (nothing is watched).
fn watch_refused(args: &[&str], names: &str) {
    let out = Command::new(EXE)
        .arg("watch")
        .args(args)
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(names), "{args:?}: {err}");
}

#[test]
fn watch_refuses_what_does_not_apply_or_cannot_be_watched() {
    watch_refused(&["--host", "", "--what", "resolver"], "--host");
    watch_refused(&["--what", "addresses,addresses"], "addresses twice");
    watch_refused(
        &["--what", "addresses", "--route-to", "192.0.2.1:0"],
        "--route-to",
    );
    watch_refused(
        &["--what", "routes", "--route-to", "192.0.2.1"],
        "--route-to",
    );
    watch_refused(
        &[
            "--what",
            "resolver",
            "--resolver-files",
            "/nonexistent-dir/x",
        ],
        "/nonexistent-dir",
    );
    watch_refused(
        &[
            "--what",
            "providers",
            "--provider-files",
            "/nonexistent-dir/x",
        ],
        "--provider-files",
    );
    watch_refused(
        &["--what", "addresses", "--resolver-files", "/etc/hosts"],
        "--resolver-files",
    );
}
