//! `fork()` with rings alive: the child gets fresh state and never touches
//! the parent's rings (their queues are shared with the parent); the
//! parent's operations complete in the parent. One test in this binary, so
//! that no other test thread is running when it forks.

mod common;

use common::*;
use overlapped::*;
use std::time::Duration;

/// What the child does; returns the exit code (0: all as expected).
fn child(
    server: Socket,
    client: Socket,
    idle: Socket,
    idle_ov: &Overlapped,
    ov: &Overlapped,
) -> i32 {
    // An alertable wait in the child: with the parent's ring, it would reap
    // the parent's completion (already in the shared completion queue).
    if sleep_ex(Some(Duration::from_millis(100)), true) != Ok(WaitResult::Timeout) {
        return 2;
    }
    // The child's copy of a record the parent started never completes here:
    // waiting on it must not hang.
    if get_overlapped_result(&idle, idle_ov, true) != Err(WsaError::WSA_OPERATION_ABORTED) {
        return 3;
    }
    // (`ov` may already be complete in this copy: the parent's service
    // thread can reap it before the fork. Either way nothing here touches it.)
    let _ = ov;
    // Fresh state: the library works in the child.
    let (a, b) = tcp_pair();
    let event = Event::new();
    let mut rx = Overlapped::new(&event);
    match b.recv(&mut rx, BufList::zeroed(8), MsgFlags::empty()) {
        Err(WsaError::WSA_IO_PENDING) => {}
        _ => return 5,
    }
    if a.send_sync(&[std::io::IoSlice::new(b"child")], MsgFlags::empty()) != Ok(5) {
        return 6;
    }
    if get_overlapped_result(&b, &rx, true) != Ok((5, MsgFlags::empty())) {
        return 7;
    }
    // Closing inherited sockets closes this process's descriptors only: no
    // shutdown of the parent's connection, no cancel of its operations.
    drop(server);
    drop(client);
    drop(idle);
    0
}

/// Waits (bounded) for the child; kills it if it hangs.
fn wait_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    for _ in 0..400 {
        // SAFETY: polls our own child.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 => std::thread::sleep(Duration::from_millis(50)),
            r => {
                assert_eq!(r, pid);
                return status;
            }
        }
    }
    // SAFETY: our own child, which hangs.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
    panic!("the child hung");
}

#[test]
fn a_forked_child_gets_fresh_state_and_the_parent_loses_nothing() {
    let (client, server) = tcp_pair();
    let (idle_peer, idle) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    let mut idle_ov = Overlapped::new(&Event::new());
    pending(idle.recv(&mut idle_ov, BufList::zeroed(16), MsgFlags::empty()));
    send_all(&client, b"parent");
    // The completion is now in the (shared) completion queue, or already
    // delivered by the parent's service thread.
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: the child only runs library code and then `_exit`s; this test
    // binary has no other test thread.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child(server, client, idle, &idle_ov, &ov)
        }))
        .unwrap_or(1);
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let status = wait_child(pid);
    assert!(libc::WIFEXITED(status), "child died: {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed its check");
    // The parent's receive completes in the parent, with its data.
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((6, MsgFlags::empty()))
    );
    assert_eq!(ov.take_buffers().unwrap().gather(6), b"parent");
    // The other one is still pending here, and completes normally.
    assert!(!idle_ov.is_completed());
    send_all(&idle_peer, b"later");
    assert_eq!(
        idle_ov.event().unwrap().wait(LONG),
        Ok(WaitResult::Signaled(0))
    );
    assert_eq!(
        get_overlapped_result(&idle, &idle_ov, false),
        Ok((5, MsgFlags::empty()))
    );
    // The child's closes did not shut the connections down.
    send_all(&server, b"both ways");
    assert_eq!(recv_exact(&client, 9), b"both ways");
    send_all(&client, b"still");
    assert_eq!(recv_exact(&server, 5), b"still");
}
