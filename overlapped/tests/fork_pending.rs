//! `fork()` while a receive is pending in the parent (the data arrives only
//! after the fork): whatever the child does with the library — an alertable
//! wait, reading the parent's record with or without waiting, or nothing —
//! the parent's receive completes in the parent with its data, and the
//! child's copy of the record reads `WSA_OPERATION_ABORTED` (DESIGN, "fork").
//! One test in this binary, so that no other test thread runs at a fork.

mod common;

use common::*;
use overlapped::*;
use std::time::Duration;

/// What the child does in each case (the tester's `tfork` 0–3 and 7).
#[derive(Clone, Copy, Debug)]
enum Child {
    /// `sleep_ex(300 ms, alertable)`, then exit.
    Sleeps,
    /// Sleeps, then `get_overlapped_result(.., wait = false)` on the parent's record.
    ReadsRecord,
    /// As `Sleeps`, with a receive that completed at once before the pending one.
    SleepsAfterAnImmediateReceive,
    /// Sleeps, then `get_overlapped_result(.., wait = true)` on the parent's record.
    WaitsOnRecord,
    /// Exits at once.
    ExitsAtOnce,
}

/// The child's checks; returns its exit code (0: as expected).
fn child(what: Child, server: &Socket, ov: &Overlapped) -> i32 {
    if let Child::ExitsAtOnce = what {
        return 0;
    }
    if sleep_ex(Some(Duration::from_millis(300)), true) != Ok(WaitResult::Timeout) {
        return 2;
    }
    let read = match what {
        Child::ReadsRecord => Some(get_overlapped_result(server, ov, false)),
        Child::WaitsOnRecord => Some(get_overlapped_result(server, ov, true)),
        _ => None,
    };
    // The parent's operation is not the child's: its copy of the record
    // reports the operation aborted, never the parent's data.
    if read.is_some_and(|r| r != Err(WsaError::WSA_OPERATION_ABORTED)) {
        return 3;
    }
    if ov.status() != Err(WsaError::WSA_OPERATION_ABORTED) {
        return 4;
    }
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

fn run(what: Child) {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    if let Child::SleepsAfterAnImmediateReceive = what {
        send_all(&client, b"abc");
        std::thread::sleep(Duration::from_millis(50));
        let r = server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty());
        assert!(matches!(r, Ok(3) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
        assert_eq!(
            get_overlapped_result(&server, &ov, true),
            Ok((3, MsgFlags::empty()))
        );
        ov = Overlapped::new(&event);
        event.reset();
    }
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    // SAFETY: the child only runs library code and then `_exit`s; this test
    // binary has no other test thread.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| child(what, &server, &ov)))
                .unwrap_or(1);
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    std::thread::sleep(Duration::from_millis(100));
    send_all(&client, b"xyz");
    let status = wait_child(pid);
    assert!(libc::WIFEXITED(status), "{what:?}: child died: {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "{what:?}: child failed its check"
    );
    // The parent's receive completes in the parent, with its data.
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)), "{what:?}");
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((3, MsgFlags::empty())),
        "{what:?}"
    );
    assert_eq!(ov.take_buffers().unwrap().gather(3), b"xyz", "{what:?}");
}

#[test]
fn a_receive_pending_at_fork_completes_in_the_parent_whatever_the_child_does() {
    for what in [
        Child::Sleeps,
        Child::ReadsRecord,
        Child::SleepsAfterAnImmediateReceive,
        Child::WaitsOnRecord,
        Child::ExitsAtOnce,
    ] {
        run(what);
    }
}
