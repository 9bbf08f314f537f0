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
        in_child(name, t);
    }
}

/// The first use of the library in this process: a receive, then away while
/// a datagram arrives; another thread waits for the completion.
fn first_operation_while_away() {
    let (s, ov, event) = pending_receive();
    completes_while_away(&s, &ov, &event);
}

/// A UDP socket on loopback with a receive pending, its record and event.
fn pending_receive() -> (Socket, Overlapped, Event) {
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        s.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    (s, ov, event)
}

/// A datagram arrives for `s`'s pending receive `ov` while this thread is
/// away (a channel wait, not the library); another thread waits for
/// `event`: the receive completes.
fn completes_while_away(s: &Socket, ov: &Overlapped, event: &Event) {
    let addr = s.local_addr().unwrap();
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
        get_overlapped_result(s, ov, false),
        Ok((5, MsgFlags::empty()))
    );
}

/// Runs test `name` of this binary in a child process (a fresh service).
fn in_child(name: &str, t: usize) {
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

/// Voluntary context switches of the library's service thread, if it has
/// one (`None`: no such thread).
fn service_wakes() -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("overlapped-serv") {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        return status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok());
    }
    None
}

/// A receive pending and its owner parked in a wait of the library (which
/// serves its ring itself): the service thread does not tick meanwhile
/// (it used to wake 100 times a second on the epoll backend). Then the
/// owner goes away outside the library, data arrives, and the receive
/// still completes (the service watches the ring again).
#[test]
fn an_owner_parked_in_its_wait_costs_the_service_no_ticks() {
    if std::env::var_os(CHILD).is_none() {
        return in_child("an_owner_parked_in_its_wait_costs_the_service_no_ticks", 0);
    }
    let (s, ov, event) = pending_receive();
    // Settle, then count over a long wait inside the library.
    let parked = Event::new();
    assert_eq!(
        parked.wait(Some(Duration::from_millis(300))),
        Ok(WaitResult::Timeout)
    );
    let before = service_wakes();
    assert_eq!(
        parked.wait(Some(Duration::from_millis(1500))),
        Ok(WaitResult::Timeout)
    );
    if let (Some(before), Some(after)) = (before, service_wakes()) {
        // Ticking would be ~150; a machine under load makes fewer, not more.
        assert!(
            after - before <= 30,
            "the service woke {} times while the owner was parked",
            after - before
        );
    }
    // Away outside the library now: the receive must still complete.
    completes_while_away(&s, &ov, &event);
}
