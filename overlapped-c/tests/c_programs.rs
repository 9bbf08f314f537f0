//! The C interface, judged by the system C compiler and real sockets: the
//! programs of `examples/c/` (written as Windows programs are) and the
//! checks of `tests/c/` are compiled with `overlapped-cc` against the
//! headers and `liboverlapped`, then run against each other and against
//! the Rust servers of the `overlapped` program, every byte checked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `target/<profile>` of this test binary (`.../deps/c_programs-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Builds liboverlapped (.so and .a) and the `overlapped` program once:
/// `cargo test` builds neither a cdylib nor another package's binary for
/// this test by itself.
fn built() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let release = target_dir().ends_with("release");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(root()).args([
            "build",
            "-p",
            "overlapped-c",
            "-p",
            "overlapped-cli",
            "--bin",
            "overlapped",
            "--lib",
        ]);
        if release {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "cargo build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = target_dir();
        assert!(dir.join("liboverlapped.so").exists() && dir.join("liboverlapped.a").exists());
        dir
    })
}

/// Compiles `source` with overlapped-cc (extra `flags` first); returns the
/// executable. The build must print nothing: no warning of any kind, the
/// MSVC pragmas of the programs included.
///
/// Each output name is built once per test process: tests run in parallel and
/// several run the same example, so rebuilding it while another test executes
/// it would fail with `ETXTBSY` (or run a half-written file).
fn compile(source: &str, name: &str, flags: &[&str], env: &[(&str, &str)]) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut built_already = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, exe)) = built_already.iter().find(|(n, _)| n == name) {
        return exe.clone();
    }
    let exe = compile_now(source, name, flags, env);
    built_already.push((name.to_string(), exe.clone()));
    exe
}

fn compile_now(source: &str, name: &str, flags: &[&str], env: &[(&str, &str)]) -> PathBuf {
    let lib = built();
    let out_dir = lib.join("c-programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let mut cmd = Command::new(root().join("overlapped-c/bin/overlapped-cc"));
    cmd.env("OVERLAPPED_LIB", lib)
        .args(["-Wall", "-Wextra", "-O1", "-g"])
        .args(flags)
        .arg(root().join(source))
        .arg("-o")
        .arg(&exe);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run overlapped-cc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "compiling {source} failed:\n{stderr}");
    assert!(
        stderr.trim().is_empty(),
        "compiling {source} printed:\n{stderr}"
    );
    exe
}

fn example(name: &str) -> PathBuf {
    compile(&format!("examples/c/{name}.c"), name, &[], &[])
}

/// `Command::spawn`, again while the program is "busy" (`ETXTBSY`, at most
/// 10 s): a program just compiled may still be open for writing in a process
/// forked meanwhile by another test (its copy of the descriptor lives until
/// that child's exec).
trait SpawnRetrying {
    fn spawn_retrying(&mut self) -> Child;
}

impl SpawnRetrying for Command {
    fn spawn_retrying(&mut self) -> Child {
        const ETXTBSY: i32 = 26;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Err(e) if e.raw_os_error() == Some(ETXTBSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r.unwrap(),
            }
        }
    }
}

/// A server process; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(exe: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn_retrying();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line must be `listening on ADDR:PORT`, got {line:?}"));
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        assert!(addr.starts_with("127.0.0.1:") && port != 0, "{addr}");
        Server { child, port }
    }

    /// SIGTERM; the exit status and the rest of the output, within 20 s.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        // SAFETY: signals our own child process by its id.
        unsafe { libc_kill(self.child.id() as i32, 15) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        (status, rest)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Runs a program to its end (at most 120 s; killed then).
fn run(exe: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(exe)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_retrying();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// `clients` line clients at once against `port`, each checking every byte.
fn clients(client: &Path, port: u16, clients: usize, lines: usize) {
    let port = port.to_string();
    let lines_arg = lines.to_string();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..clients)
            .map(|_| s.spawn(|| run(client, &["127.0.0.1", &port, &lines_arg])))
            .collect();
        for r in runs {
            let out = r.join().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.starts_with(&format!("ok {lines} lines")),
                "client failed ({}): {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// A Rust peer: 1 MiB of varied bytes in uneven writes, read back and compared.
fn rust_peer(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let data: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let reader = {
        let mut r = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut back = vec![0u8; 1 << 20];
            r.read_exact(&mut back).unwrap();
            back
        })
    };
    for chunk in data.chunks(7919) {
        s.write_all(chunk).unwrap();
    }
    assert!(reader.join().unwrap() == data, "the echo differs");
}

fn overlapped_exe() -> PathBuf {
    built().join("overlapped")
}

#[test]
fn event_object_server_echoes_c_and_rust_clients() {
    let server = Server::start(&example("event_server"), &["0"]);
    clients(&example("line_client"), server.port, 4, 150);
    rust_peer(server.port);
}

#[test]
fn event_select_server_echoes_c_and_rust_clients() {
    let server = Server::start(&example("select_server"), &["0"]);
    clients(&example("line_client"), server.port, 6, 150);
    rust_peer(server.port);
    // Two Rust peers at once: each one's 1 MiB fills the send buffers, so
    // FD_WRITE (after WSAEWOULDBLOCK) carries the echo.
    std::thread::scope(|s| {
        s.spawn(|| rust_peer(server.port));
        rust_peer(server.port);
    });
}

#[test]
fn completion_routine_server_echoes_c_and_rust_clients() {
    let exe = example("routine_server");
    let server = Server::start(&exe, &["0"]);
    clients(&example("line_client"), server.port, 4, 150);
    rust_peer(server.port);
    drop(server);
    // The server prints a line if a routine ever runs on another thread.
    let mut child = Command::new(&exe)
        .arg("0")
        .stdout(Stdio::piped())
        .spawn_retrying();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    clients(&example("line_client"), port, 2, 50);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty(), "the routine server said: {rest}");
}

#[test]
fn completion_port_server_echoes_and_stops_on_sigterm() {
    let server = Server::start(&example("iocp_server"), &["0"]);
    clients(&example("line_client"), server.port, 6, 150);
    rust_peer(server.port);
    let (status, rest) = server.terminate();
    assert!(status.success(), "exit status {status}, output {rest:?}");
    assert_eq!(rest.trim(), "stopped");
}

#[test]
fn acceptex_server_echoes_c_and_rust_clients() {
    let server = Server::start(&example("acceptex_server"), &["0"]);
    clients(&example("line_client"), server.port, 6, 150);
    rust_peer(server.port);
}

#[test]
fn the_c_client_against_the_rust_servers() {
    let client = example("line_client");
    for model in [
        &["event"][..],
        &["routine"][..],
        &["port", "--threads", "2"][..],
    ] {
        let mut args = vec!["serve", "--addr", "127.0.0.1", "--port", "0", "--model"];
        args.extend_from_slice(model);
        let server = Server::start(&overlapped_exe(), &args);
        clients(&client, server.port, 3, 150);
    }
}

#[test]
fn a_statically_linked_client() {
    let client = compile(
        "examples/c/line_client.c",
        "line_client_static",
        &[],
        &[("OVERLAPPED_STATIC", "1")],
    );
    let server = Server::start(&example("event_server"), &["0"]);
    clients(&client, server.port, 1, 50);
}

#[test]
fn layouts_and_values_are_windows_x64_in_c_and_cpp() {
    for (name, flags, env) in [
        ("abi_c", &[][..], &[][..]),
        (
            "abi_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/abi.c", name, flags, env);
        let out = run(&exe, &[]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    }
}

#[test]
fn winsock_behaviour_through_the_c_interface() {
    let exe = compile("overlapped-c/tests/c/semantics.c", "semantics", &[], &[]);
    let out = run(&exe, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("ok "),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn event_select_rules_through_the_c_interface_in_c_and_cpp() {
    for (name, flags, env) in [
        ("event_select_c", &[][..], &[][..]),
        (
            "event_select_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/event_select.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn messages_and_transmits_through_the_c_interface_in_c_and_cpp() {
    for (name, flags, env) in [
        ("messages_c", &[][..], &[][..]),
        (
            "messages_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/messages.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn ioctls_and_address_strings_through_the_c_interface_in_c_and_cpp() {
    for (name, flags, env) in [
        ("ioctls_c", &[][..], &[][..]),
        (
            "ioctls_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/ioctls.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_unicode_build_with_tmain_and_w_functions_in_c_and_cpp() {
    for (name, flags, env) in [
        ("unicode_c", &[][..], &[][..]),
        (
            "unicode_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/unicode.c", name, flags, env);
        // Bounded: the program makes no network calls that can block.
        let out = Command::new(&exe)
            .args(["grüße", "--x"])
            .env("LC_ALL", "C.UTF-8")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && stdout.starts_with("ok ")
                && stdout.trim_end().ends_with(" grüße"),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn provider_config_change_through_the_c_interface_in_c_and_cpp() {
    for (name, flags, env) in [
        ("provider_c", &[][..], &[][..]),
        (
            "provider_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/provider.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn name_service_queries_and_nsp_ioctl_through_the_c_interface_in_c_and_cpp() {
    for (name, flags, env) in [
        ("nsp_c", &[][..], &[][..]),
        (
            "nsp_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/nsp.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The new user's report (D0–D3): waits beyond 64 handles answer without
/// ambiguity, a close under a pending event-model receive, `Internal`
/// polled with `Sleep`, and `GetQueuedCompletionStatus` keeping the last error.
#[test]
fn waits_beyond_64_close_under_receive_and_polled_records_in_c_and_cpp() {
    for (name, flags, env) in [
        ("waits_and_records_c", &[][..], &[][..]),
        (
            "waits_and_records_cpp",
            &["-x", "c++"][..],
            &[("OVERLAPPED_CXX", "1")][..],
        ),
    ] {
        let exe = compile("overlapped-c/tests/c/waits_and_records.c", name, flags, env);
        let out = run(&exe, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok "),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
