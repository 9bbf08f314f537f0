//! Failure is reported as failure, and no child process outlives its parent:
//! through the built binary, with real servers and real signals.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, EXE};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits for `child` at most `secs`; kills it and panics past that.
fn wait_bounded(child: &mut Child, secs: u64, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// Process ids whose parent is `parent` (from `/proc/PID/stat`).
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == parent {
            out.push(pid);
        }
    }
    out
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next().map(String::from));
            !matches!(state.as_deref(), Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Starts `overlapped ARGS` (stderr piped), waits until it has a child
/// process (a server), signals it with `sig`, and checks that the parent and
/// every child it had are gone within 10 s.
fn children_die_with(args: &[&str], sig: &str) {
    // `env --default-signal=INT` (exec, same pid): a test run started as a
    // background job inherits SIGINT ignored, and an ignored SIGINT would
    // prove nothing about what the program does on Ctrl-C.
    let mut parent = Command::new("env")
        .arg("--default-signal=INT")
        .arg(EXE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = parent.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let kids = loop {
        let kids = children_of(pid);
        // taskset (if used) becomes the server itself by exec: wait for an
        // `overlapped` child.
        let servers: Vec<u32> = kids
            .into_iter()
            .filter(|k| {
                std::fs::read_to_string(format!("/proc/{k}/cmdline"))
                    .is_ok_and(|c| c.contains("serve"))
            })
            .collect();
        if !servers.is_empty() {
            break servers;
        }
        assert!(
            Instant::now() < deadline,
            "`overlapped {}` started no server",
            args.join(" ")
        );
        assert!(parent.try_wait().unwrap().is_none(), "parent ended early");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let it get into its work (bench child started, server serving).
    std::thread::sleep(Duration::from_millis(300));
    let mut all = kids.clone();
    all.extend(children_of(pid));
    signal(pid, sig);
    wait_bounded(&mut parent, 10, "the signalled parent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while all.iter().any(|k| alive(*k)) {
        assert!(
            Instant::now() < deadline,
            "children {all:?} of `overlapped {}` outlived it after {sig}",
            args.join(" ")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn compare_children_die_on_sigterm_and_sigkill() {
    let args = [
        "compare",
        "--servers",
        "tokio",
        "--scenarios",
        "50x64B",
        "--secs",
        "60",
        "--rounds",
        "1",
    ];
    children_die_with(&args, "-TERM");
    children_die_with(&args, "-KILL");
}

#[test]
fn soak_children_die_on_sigint() {
    children_die_with(
        &["soak", "--secs", "60", "--model", "event", "--workers", "1"],
        "-INT",
    );
}

#[test]
fn bench_that_echoed_nothing_fails_whatever_its_length() {
    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end && held.len() < 2 {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    let mut child = Command::new(EXE)
        .args([
            "bench", "--addr", &addr, "--conns", "2", "--secs", "0.5", "--warmup", "0",
        ])
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, 30, "bench against a silent server");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["msgs"], 0);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("nothing was echoed"), "{report}");
    assert!(report["errors"].as_u64().unwrap() >= 1, "{report}");
    holder.join().unwrap();
}

#[test]
fn bench_stopped_with_ctrl_c_prints_what_it_measured() {
    let server = ServerProcess::start(&["serve", "--port", "0"]);
    let mut child = Command::new(EXE)
        .args([
            "bench",
            "--addr",
            &server.addr,
            "--conns",
            "4",
            "--secs",
            "60",
        ])
        .args(["--warmup", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(child.id(), "-INT");
    let status = wait_bounded(&mut child, 15, "bench after SIGINT");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stdout}");
    assert!(
        stdout.contains("msgs/s") && stdout.contains("interrupted"),
        "{stdout}"
    );
    let msgs_per_sec: f64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("msgs/s"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(msgs_per_sec > 0.0, "figures so far expected:\n{stdout}");
    server.stop_cleanly();
}

#[test]
fn compare_where_every_run_failed_exits_non_zero() {
    // The load generator cannot open 10,000 connections under a hard limit
    // of 256 descriptors: every run fails, and compare must say so.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {EXE} compare --servers tokio --scenarios 10000x64B \
             --secs 0.5 --rounds 1 --quick"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_bounded(&mut child, 60, "compare with every run failing");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        out.contains("failed"),
        "the table shows the failure:\n{out}\n{err}"
    );
    assert_eq!(status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("1 of 1 runs failed"), "{err}");
}

#[test]
fn errors_name_the_address_and_say_what_the_code_means() {
    let server = ServerProcess::start(&["serve", "--port", "0"]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    for sub in [
        &["serve"][..],
        &["serve", "--model", "routine"],
        &["serve-tokio"],
    ] {
        let out = Command::new(EXE)
            .args(sub)
            .args(["--port", &port])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sub:?}: {err}");
        assert!(
            err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{sub:?} names the address: {err}"
        );
        // One convention for OS errors, serve-tokio included.
        assert!(
            err.contains("WSAEADDRINUSE (10048): The address is already in use")
                && !err.contains("os error"),
            "{sub:?}: name, number and meaning: {err}"
        );
    }
    server.stop_cleanly();
}

#[test]
fn serve_udp_honours_buffer() {
    let server = ServerProcess::start(&["serve", "--proto", "udp", "--port", "0", "--buffer", "8"]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.send_to(b"0123456789abcdefghij", &server.addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"01234567", "a datagram is cut to --buffer");
    server.stop_cleanly();
}

#[test]
fn soak_shows_progress_on_stderr() {
    let mut child = Command::new(EXE)
        .args([
            "soak",
            "--secs",
            "0.5",
            "--model",
            "routine",
            "--workers",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first phase is announced at once, long before the verdict.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("soak routine: warm-up"), "{first}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = wait_bounded(&mut child, 60, "a short soak");
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("soak routine: churn")),
        "{rest:?}"
    );
}

#[test]
fn connect_rate_stopped_with_ctrl_c_prints_what_it_measured() {
    let server = ServerProcess::start(&["serve", "--port", "0"]);
    let mut child = Command::new(EXE)
        .args(["bench", "--connect-rate", "--addr", &server.addr])
        .args(["--connections", "1000000", "--conns", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    signal(child.id(), "-INT");
    let status = wait_bounded(&mut child, 15, "bench --connect-rate after SIGINT");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stdout}{stderr}");
    assert!(
        stdout.contains("connections/s") && stdout.contains("(interrupted)"),
        "{stdout}"
    );
    assert!(stderr.contains("interrupted"), "{stderr}");
    server.stop_cleanly();
}

#[test]
fn connect_rate_names_why_connections_failed() {
    // Nothing listens on port 1 of loopback: every connection is refused.
    let out = Command::new(EXE)
        .args(["bench", "--connect-rate", "--addr", "127.0.0.1:1"])
        .args(["--connections", "3", "--conns", "1"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("WSAECONNREFUSED (10061)"), "{stdout}");
    // Plain bench says it the same way.
    let out = Command::new(EXE)
        .args([
            "bench",
            "--addr",
            "127.0.0.1:1",
            "--conns",
            "1",
            "--secs",
            "0.1",
        ])
        .args(["--warmup", "0", "--json"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("WSAECONNREFUSED (10061)") && !stdout.contains("os error"),
        "{stdout}"
    );
}

/// `overlapped ARGS` with only the checks: refused with exit 2, naming `names`.
fn refused(args: &[&str], names: &[&str]) {
    let out = Command::new(EXE)
        .args(args)
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in names {
        assert!(err.contains(n), "{args:?} should name {n}: {err}");
    }
}

#[test]
fn options_that_do_not_apply_are_refused_by_name() {
    let cr = ["bench", "--connect-rate", "--addr", "127.0.0.1:9"];
    refused(&[&cr[..], &["--depth", "5"]].concat(), &["--depth"]);
    refused(&[&cr[..], &["--rate", "5"]].concat(), &["--rate"]);
    refused(
        &[&cr[..], &["--secs", "1", "--warmup", "0"]].concat(),
        &["--secs", "--warmup"],
    );
    refused(
        &["bench", "--addr", "127.0.0.1:9", "--loss-timeout", "1"],
        &["--loss-timeout"],
    );
    refused(&["bench", "--addr", "127.0.0.1:0"], &["port 0"]);
    refused(
        &["bench", "--connect-rate", "--addr", "127.0.0.1:0"],
        &["port 0"],
    );
}

#[test]
fn port_values_out_of_range_are_said_plainly() {
    for bad in ["70000", "-1", "99999999999999999999"] {
        let out = Command::new(EXE)
            .args(["serve", "--port", bad])
            .env("OVERLAPPED_CHECK_ARGS", "1")
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains(&format!("invalid value '{bad}' for '--port"))
                && err.contains("must be from 0 to 65535")
                && !err.contains("not a whole number"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn a_bad_backend_variable_is_a_usage_error_like_a_bad_option() {
    // Exit 2 for both (clap's code for a bad --backend); --backend wins over the variable.
    let bad_var = Command::new(EXE)
        .args(["serve", "--port", "0"])
        .env("OVERLAPPED_BACKEND", "bogus")
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    let err = text(&bad_var.stderr);
    assert_eq!(bad_var.status.code(), Some(2), "{err}");
    assert!(
        err.contains("OVERLAPPED_BACKEND=\"bogus\" is not a backend"),
        "{err}"
    );
    let bad_option = Command::new(EXE)
        .args(["serve", "--port", "0", "--backend", "bogus"])
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    assert_eq!(
        bad_option.status.code(),
        Some(2),
        "{}",
        text(&bad_option.stderr)
    );
    let overridden = Command::new(EXE)
        .args(["serve", "--port", "0", "--backend", "epoll"])
        .env("OVERLAPPED_BACKEND", "bogus")
        .env("OVERLAPPED_CHECK_ARGS", "1")
        .output()
        .unwrap();
    assert_eq!(
        overridden.status.code(),
        Some(0),
        "{}",
        text(&overridden.stderr)
    );
}
