//! Progress while the issuing thread is away, for the first operation of a
//! process (issue 15).
//!
//! On the epoll backend a thread's operations move while it is away (asleep
//! outside the library) because the service thread drives its ring. The
//! service sleeps without a tick while no ring has an operation, and the
//! first operation to start wakes it. The first operations of a process
//! start while the service thread is still starting: it must see them
//! (it used to go to sleep for ever at its first look without looking at the
//! rings, so a change-notification future made on one thread and awaited
//! on another hung). "Away" here is a plain channel wait.
//!
//! Each try runs in a child process of its own (this binary, filtered to
//! the test, with `CHILD` set): only a fresh process has a fresh service.

use overlapped::*;
use std::net::UdpSocket;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// Generous: only a hang reaches it.
const BOUND: Duration = Duration::from_secs(20);
const CHILD: &str = "OVERLAPPED_PROGRESS_IDLE_CHILD";
const TRIES: usize = 6;

#[test]
fn the_first_operation_of_a_process_completes_while_its_issuer_is_away() {
    if std::env::var_os(CHILD).is_some() {
        first_operation_while_away();
        return;
    }
    let name = "the_first_operation_of_a_process_completes_while_its_issuer_is_away";
    for t in 0..TRIES {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "try {t}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The first use of the library in this process: a receive, then away while
/// a datagram arrives; another thread waits for the completion.
fn first_operation_while_away() {
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = s.local_addr().unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        s.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    let (tx, rx) = mpsc::channel();
    let ev = event.clone();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(ev.wait(Some(BOUND)));
    });
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"hello", addr)
        .unwrap();
    // Away: a channel wait, not the library.
    let woke = rx.recv_timeout(2 * BOUND);
    waiter.join().unwrap();
    assert_eq!(
        woke,
        Ok(Ok(WaitResult::Signaled(0))),
        "the receive never completed while its thread was away"
    );
    assert_eq!(
        get_overlapped_result(&s, &ov, false),
        Ok((5, MsgFlags::empty()))
    );
}
