//! A ring whose `io_uring_enter` starts failing after the backend was chosen
//! (a seccomp filter installed later, as a sandbox that locks itself down
//! after start-up does): operations already in the kernel still complete,
//! new ones fail with `WSAENETDOWN` ("the network subsystem has failed", as
//! Winsock names it), and a blocking call returns that error instead of
//! spinning in a loop of denied `io_uring_enter`s. The filter is installed in
//! a child process only (this test binary run again with one test).

use std::collections::BTreeMap;
use std::io::{IoSliceMut, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use overlapped::*;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

/// Set in the child: run the check.
const CHILD: &str = "OVERLAPPED_SECCOMP_LATER_CHILD";

#[test]
fn a_ring_denied_io_uring_enter_later_fails_its_calls_without_spinning() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_denied_later",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env_remove(BACKEND_VAR)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: the child needs well under a second; a spinning one never ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed or hung:\n{stdout}\n{stderr}"
    );
    if stdout.contains("skipped:") {
        return; // io_uring is not the backend here: nothing to deny later.
    }
    for line in [
        "in flight before: completed with 5 bytes",
        "overlapped after: WSAENETDOWN",
        "synchronous after: WSAENETDOWN",
        "closed with a receive in the kernel: \"WSAECONNABORTED",
        "batched after: WSAENETDOWN",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}

/// Runs only as the child of the test above (a no-op otherwise).
#[test]
fn child_denied_later() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let chosen = backend().expect("a backend runs");
    if chosen.kind != BackendKind::Uring {
        println!("skipped: {chosen}");
        return;
    }
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (conn, _) = listener.accept().unwrap();
    // A receive in the kernel before the filter.
    let event = Event::new();
    let mut before = Overlapped::new(&event);
    assert_eq!(
        conn.recv(&mut before, BufList::zeroed(64), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    // Another, on a socket closed after the filter.
    let _peer2 = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (conn2, _) = listener.accept().unwrap();
    let event2 = Event::new();
    let mut before2 = Overlapped::new(&event2);
    assert_eq!(
        conn2.recv(&mut before2, BufList::zeroed(64), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );

    deny_io_uring_enter();

    drop(conn2);
    let waited = wait_for_multiple_events(
        std::slice::from_ref(&event2),
        false,
        Some(Duration::from_secs(3)),
        false,
    );
    // The close's shutdown ends it, as on a working ring (DESIGN, "Cancellation
    // and close": a stream receive connected at the close reports
    // WSAECONNABORTED); its cancel could not reach the kernel.
    assert_eq!(
        waited,
        Ok(WaitResult::Signaled(0)),
        "the receive of the closed socket"
    );
    println!(
        "closed with a receive in the kernel: {:?}",
        name(before2.status().map(|n| n as usize))
    );

    // Waiting for it (nothing comes yet) sleeps: each turn's denied
    // `io_uring_enter` used to return at once, and the wait spun on it.
    let cpu = thread_cpu_ticks();
    let waited = wait_for_multiple_events(
        std::slice::from_ref(&event),
        false,
        Some(Duration::from_secs(1)),
        false,
    );
    assert_eq!(waited, Ok(WaitResult::Timeout));
    let used = thread_cpu_ticks() - cpu;
    println!("a 1 s wait used {used} CPU ticks");
    // One-sided: a sleeping wait uses about none; a spinning one most of the
    // second (less only on a machine too loaded to give it the CPU).
    assert!(used < 50, "the wait spun: {used} ticks of CPU in 1 s");

    peer.write_all(b"hello").unwrap();
    let waited = wait_for_multiple_events(
        std::slice::from_ref(&event),
        false,
        Some(Duration::from_secs(20)),
        false,
    );
    assert_eq!(waited, Ok(WaitResult::Signaled(0)), "the receive in flight");
    let (n, _) = get_overlapped_result(&conn, &before, false).unwrap();
    println!("in flight before: completed with {n} bytes");

    // A new overlapped receive cannot reach the kernel: it fails, at once or
    // through its record.
    event.reset();
    let mut after = Overlapped::new(&event);
    let r = match conn.recv(&mut after, BufList::zeroed(64), MsgFlags::empty()) {
        Err(WsaError::WSA_IO_PENDING) => {
            let waited = wait_for_multiple_events(
                std::slice::from_ref(&event),
                false,
                Some(Duration::from_secs(20)),
                false,
            );
            assert_eq!(waited, Ok(WaitResult::Signaled(0)), "the failed receive");
            get_overlapped_result(&conn, &after, false).map(|(n, _)| n)
        }
        other => other,
    };
    println!("overlapped after: {}", name(r.map(|n| n as usize)));

    // Batched: the receive waits for the thread's next wait; a thread that
    // only polls (zero timeouts) must see it fail too.
    set_batching(true).unwrap();
    event.reset();
    let mut batched = Overlapped::new(&event);
    let r = match conn.recv(&mut batched, BufList::zeroed(64), MsgFlags::empty()) {
        Err(WsaError::WSA_IO_PENDING) => {
            let mut polls = 0;
            while wait_for_multiple_events(
                std::slice::from_ref(&event),
                false,
                Some(Duration::ZERO),
                false,
            ) != Ok(WaitResult::Signaled(0))
            {
                polls += 1;
                assert!(polls < 2000, "polling never saw the batched receive end");
                std::thread::sleep(Duration::from_millis(1));
            }
            get_overlapped_result(&conn, &batched, false).map(|(n, _)| n)
        }
        other => other,
    };
    println!("batched after: {}", name(r.map(|n| n as usize)));
    set_batching(false).unwrap();

    // A blocking call returns the error (it used to spin forever).
    let mut buf = [0u8; 16];
    let r = conn.recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty());
    println!("synchronous after: {}", name(r));
}

/// The calling thread's user + system CPU time, in clock ticks (`/proc`).
fn thread_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next().unwrap().parse().unwrap();
    let stime: u64 = fields.next().unwrap().parse().unwrap();
    utime + stime
}

fn name(r: WsaResult<usize>) -> String {
    match r {
        Ok(n) => format!("Ok({n})"),
        Err(e) => format!("{e:?}"),
    }
}

/// `io_uring_enter` fails with `EPERM` from now on, in every thread of the
/// process (the library's service thread too: `SECCOMP_FILTER_FLAG_TSYNC`),
/// as a sandbox that locks itself down after start-up does.
fn deny_io_uring_enter() {
    let filter = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_io_uring_enter, vec![])]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        std::env::consts::ARCH.try_into().unwrap(),
    )
    .unwrap();
    let program: BpfProgram = filter.try_into().unwrap();
    seccompiler::apply_filter_all_threads(&program).unwrap();
}
