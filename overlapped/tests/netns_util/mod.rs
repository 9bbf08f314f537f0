//! Helpers of the change-notification tests: running a test body inside a
//! fresh network namespace, where it may add and remove addresses, links and
//! routes without touching the machine's; bounded alertable waits.
//!
//! The test re-runs its own binary under `unshare -n`, filtered to itself,
//! with `OVERLAPPED_IN_NETNS=1`; that child runs the body. Where a network
//! namespace cannot be made (not root, no `unshare` or `ip`), the test says
//! so and passes without running the body.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

const IN_NETNS: &str = "OVERLAPPED_IN_NETNS";

/// Runs `body` in a fresh network namespace with `lo` up. `name` is the
/// test's own name (the harness filter for the child).
pub fn run(name: &str, body: impl FnOnce()) {
    if std::env::var_os(IN_NETNS).is_some() {
        ip(&["link", "set", "lo", "up"]);
        body();
        return;
    }
    if let Some(why) = unavailable(&["unshare", "ip"]) {
        eprintln!("SKIPPED {name}: no network namespace here ({why}); run as root with unshare(1) and ip(8)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .output()
        .expect("run the test in a network namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its network namespace:\n{stdout}\n{stderr}"
    );
}

/// Why a network namespace cannot be made here with `tools`, if it cannot.
pub fn unavailable(tools: &[&str]) -> Option<String> {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} not installed"));
        }
    }
    match Command::new("unshare").args(["-n", "true"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Some(e.to_string()),
    }
}

/// Runs `ip ARGS` (in the namespace), panicking with its message on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `dummy` link `name` (or, on a kernel without the dummy driver, one end
/// of a `veth` pair), up, with the documentation address `cidr`.
pub fn dummy(name: &str, cidr: &str) {
    let dummy = Command::new("ip")
        .args(["link", "add", name, "type", "dummy"])
        .output()
        .expect("run ip");
    if !dummy.status.success() {
        let peer = format!("{name}p");
        ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "up"]);
    }
    ip(&["link", "set", name, "up"]);
    ip(&["addr", "add", cidr, "brd", "+", "dev", name]);
}

/// Polls `cond` until it holds or 20 s pass (generous: a loaded machine).
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs alertable waits (so routines run) until `done` or 20 s.
pub fn alertable_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "routine did not run within 20 s");
        let _ = overlapped::sleep_ex(Some(Duration::from_millis(50)), true).unwrap();
    }
}
