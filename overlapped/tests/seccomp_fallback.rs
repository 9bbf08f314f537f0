//! Where io_uring is denied, as container runtimes' default seccomp profiles
//! do (`io_uring_setup` → `EPERM`), the library falls back to epoll, says
//! why, and works. The filter is installed in a child process only (this
//! test binary run again with one test), so nothing global is changed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use overlapped::*;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

/// Set in the child: install the filter, then check.
const CHILD: &str = "OVERLAPPED_SECCOMP_CHILD";

#[test]
fn io_uring_denied_by_seccomp_falls_back_to_epoll() {
    let stdout = fallback_in_child("setup");
    assert!(
        stdout.contains("backend: epoll (io_uring_setup: EPERM (Operation not permitted))"),
        "{stdout}"
    );
}

/// Runs the child with `mode`'s filter, lets it choose, and returns its
/// output (it must have echoed on epoll).
fn fallback_in_child(mode: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_with_io_uring_denied",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode)
        .env_remove(BACKEND_VAR)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child ({mode}) failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("echoed 11 bytes"), "{stdout}");
    stdout
}

/// A ring that can be made but not entered (`io_uring_enter` denied) is not
/// io_uring that works: the probe's NOP finds it, the library falls back to
/// epoll and names the call (it used to choose io_uring and spin).
#[test]
fn io_uring_enter_denied_falls_back_to_epoll() {
    let stdout = fallback_in_child("enter");
    assert!(
        stdout.contains("backend: epoll (io_uring_enter: EPERM (Operation not permitted))"),
        "{stdout}"
    );
}

/// The reason names the real errno (EACCES is SELinux's answer) and the
/// real call (a denied `io_uring_register` is not an old kernel).
#[test]
fn the_fallback_reason_names_the_denied_call_and_its_errno() {
    let stdout = fallback_in_child("eacces");
    assert!(
        stdout.contains("backend: epoll (io_uring_setup: EACCES (Permission denied))"),
        "{stdout}"
    );
    let stdout = fallback_in_child("register");
    assert!(
        stdout.contains(
            "backend: epoll (io_uring_register(IORING_REGISTER_PROBE): EPERM (Operation not permitted))"
        ),
        "{stdout}"
    );
}

/// Forcing io_uring where it is denied is an error, not a fallback.
#[test]
fn forcing_uring_where_it_is_denied_is_an_error() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_with_io_uring_denied",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "forced")
        .env(BACKEND_VAR, "uring")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}");
    assert!(
        stdout.contains("refused: OVERLAPPED_BACKEND=uring, but io_uring cannot start here: io_uring_setup: EPERM"),
        "{stdout}"
    );
}

/// Runs only as the child of the tests above (a no-op otherwise).
#[test]
fn child_with_io_uring_denied() {
    let Ok(mode) = std::env::var(CHILD) else {
        return;
    };
    match mode.as_str() {
        // A profile that allows the ring to be made but denies the call that
        // does the I/O: the probe's NOP must find it.
        "enter" => deny(libc::SYS_io_uring_enter, libc::EPERM),
        "register" => deny(libc::SYS_io_uring_register, libc::EPERM),
        // SELinux's io_uring denial answers EACCES.
        "eacces" => deny(libc::SYS_io_uring_setup, libc::EACCES),
        _ => deny(libc::SYS_io_uring_setup, libc::EPERM),
    }
    if mode == "forced" {
        let e = backend().expect_err("forced uring must not fall back");
        println!("refused: {e}");
        let e = startup().expect_err("and the start fails the same way");
        assert!(matches!(e, SetupError::ForcedUring(_)), "{e}");
        return;
    }
    let chosen = backend().expect("epoll runs");
    println!("backend: {chosen}");
    assert_eq!(chosen.kind, BackendKind::Epoll);
    startup().expect("the epoll backend starts");
    echo_round_trip();
}

/// `syscall` fails with `errno` from now on, in this thread and the threads
/// it starts (`PR_SET_NO_NEW_PRIVS` + a seccomp filter).
fn deny(syscall: libc::c_long, errno: i32) {
    let filter = SeccompFilter::new(
        BTreeMap::from([(syscall, vec![])]),
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        std::env::consts::ARCH.try_into().unwrap(),
    )
    .unwrap();
    let program: BpfProgram = filter.try_into().unwrap();
    seccompiler::apply_filter(&program).unwrap();
}

/// A client sends 11 bytes; an overlapped receive (record + event) takes
/// them, an overlapped send echoes them, the client reads them back.
fn echo_round_trip() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(b"hello epoll").unwrap();
        let mut back = [0u8; 11];
        c.read_exact(&mut back).unwrap();
        back
    });
    let (conn, _) = listener.accept().unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let mut got = Vec::new();
    while got.len() < 11 {
        match conn.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()) {
            Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
            Err(e) => panic!("WSARecv: {e}"),
        }
        let r = wait_for_multiple_events(
            std::slice::from_ref(&event),
            false,
            Some(Duration::from_secs(20)),
            false,
        )
        .unwrap();
        assert_eq!(r, WaitResult::Signaled(0));
        let (n, _) = get_overlapped_result(&conn, &ov, false).unwrap();
        let bufs = ov.take_buffers().unwrap();
        got.extend_from_slice(&bufs.gather(n as usize));
    }
    let mut sent = Overlapped::new(&event);
    let mut out = BufList::new();
    out.push(got.clone());
    match conn.send(&mut sent, out, MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("WSASend: {e}"),
    }
    let (n, _) = get_overlapped_result(&conn, &sent, true).unwrap();
    assert_eq!(n, 11);
    assert_eq!(&client.join().unwrap(), b"hello epoll");
    println!("echoed {n} bytes");
}
