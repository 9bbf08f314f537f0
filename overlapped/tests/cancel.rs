//! CancelIo and CancelIoEx (facts 125, 126): what is cancelled, what is
//! not, what an operation that won the race reports, and how each
//! notification (event, routine) sees a cancel.

mod common;

use common::*;
use overlapped::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

fn start_recv(s: &Socket, ov: &mut Overlapped, len: usize) {
    pending(s.recv(ov, BufList::zeroed(len), MsgFlags::empty()));
}

/// The record's result, read through a socket that is still open.
fn result(s: &Socket, ov: &Overlapped) -> WsaResult<u32> {
    get_overlapped_result(s, ov, true).map(|r| r.0)
}

#[test]
fn cancel_io_succeeds_with_nothing_pending_and_cancel_io_ex_says_not_found() {
    let (_client, server) = tcp_pair();
    // Fact 125: CancelIo returns TRUE even when nothing was pending.
    assert_eq!(cancel_io(&server), Ok(()));
    // Fact 126: CancelIoEx with nothing to cancel fails with ERROR_NOT_FOUND.
    assert_eq!(cancel_io_ex(&server, None), Err(WsaError::ERROR_NOT_FOUND));
    assert_eq!(WsaError::ERROR_NOT_FOUND.code(), 1168);
    let idle = Overlapped::without_event();
    assert_eq!(
        cancel_io_ex(&server, Some(&idle)),
        Err(WsaError::ERROR_NOT_FOUND)
    );
}

#[test]
fn cancel_io_aborts_a_pending_receive_through_its_event_and_loses_no_data() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 64);
    assert_eq!(cancel_io(&server), Ok(()));
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result(&server, &ov), Err(WsaError::WSA_OPERATION_ABORTED));
    assert_eq!(ov.bytes_transferred(), 0);
    assert_eq!(ov.take_buffers().unwrap().total_len(), 64, "buffer back");
    // The cancelled receive consumed nothing: the next one gets the data.
    send_all(&client, b"after cancel");
    start_recv_or_done(&server, &mut ov);
    assert_eq!(result(&server, &ov), Ok(12));
    assert_eq!(ov.take_buffers().unwrap().gather(12), b"after cancel");
}

fn start_recv_or_done(s: &Socket, ov: &mut Overlapped) {
    match s.recv(ov, BufList::zeroed(64), MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("recv: {e}"),
    }
}

#[test]
fn cancel_io_ex_with_a_record_cancels_only_that_operation() {
    let (client, server) = tcp_pair();
    let (e1, e2) = (Event::new(), Event::new());
    let (mut ov1, mut ov2) = (Overlapped::new(&e1), Overlapped::new(&e2));
    start_recv(&server, &mut ov1, 8);
    start_recv(&server, &mut ov2, 8); // queued behind ov1 in the socket's lane
    assert_eq!(cancel_io_ex(&server, Some(&ov2)), Ok(()));
    assert_eq!(e2.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result(&server, &ov2), Err(WsaError::WSA_OPERATION_ABORTED));
    assert!(!ov1.is_completed(), "the other receive is untouched");
    // Cancelling it again: it has completed, nothing to cancel.
    assert_eq!(
        cancel_io_ex(&server, Some(&ov2)),
        Err(WsaError::ERROR_NOT_FOUND)
    );
    send_all(&client, b"first");
    assert_eq!(result(&server, &ov1), Ok(5));
    assert_eq!(ov1.take_buffers().unwrap().gather(5), b"first");
}

#[test]
fn cancelling_the_head_receive_lets_the_next_one_take_the_data() {
    let (client, server) = tcp_pair();
    let (e1, e2) = (Event::new(), Event::new());
    let (mut ov1, mut ov2) = (Overlapped::new(&e1), Overlapped::new(&e2));
    start_recv(&server, &mut ov1, 8);
    start_recv(&server, &mut ov2, 8);
    assert_eq!(cancel_io_ex(&server, Some(&ov1)), Ok(()));
    assert_eq!(result(&server, &ov1), Err(WsaError::WSA_OPERATION_ABORTED));
    send_all(&client, b"second");
    assert_eq!(result(&server, &ov2), Ok(6));
    assert_eq!(ov2.take_buffers().unwrap().gather(6), b"second");
}

#[test]
fn cancel_io_ex_with_a_record_of_another_socket_is_not_found() {
    let (_c1, s1) = tcp_pair();
    let (c2, s2) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&s2, &mut ov, 8);
    assert_eq!(cancel_io_ex(&s1, Some(&ov)), Err(WsaError::ERROR_NOT_FOUND));
    send_all(&c2, b"ok");
    assert_eq!(result(&s2, &ov), Ok(2), "not cancelled");
}

#[test]
fn cancel_io_cancels_only_the_calling_threads_operations() {
    // Fact 125: CancelIo is per issuing thread.
    let (client, server) = tcp_pair();
    let mine = Event::new();
    let mut ov = Overlapped::new(&mine);
    start_recv(&server, &mut ov, 8);
    let theirs = Event::new();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let other = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        let (server, theirs) = (&server, &theirs);
        let t = scope.spawn(move || {
            let mut ov = Overlapped::new(theirs);
            start_recv(server, &mut ov, 8);
            tx.send(()).unwrap();
            // Stay alive (and out of the library) while the main thread cancels.
            done_rx.recv().unwrap();
            ov
        });
        rx.recv().unwrap();
        assert_eq!(cancel_io(server), Ok(()));
        assert_eq!(mine.wait(LONG), Ok(WaitResult::Signaled(0)));
        assert_eq!(result(server, &ov), Err(WsaError::WSA_OPERATION_ABORTED));
        send_all(&client, b"theirs");
        assert_eq!(theirs.wait(LONG), Ok(WaitResult::Signaled(0)));
        done_tx.send(()).unwrap();
        t.join().unwrap()
    });
    assert_eq!(result(&server, &other), Ok(6));
}

#[test]
fn cancel_io_ex_from_another_thread_wakes_the_waiter() {
    // Fact 126: any thread may cancel; the waiting thread sees its event.
    let (_client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 8);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(cancel_io_ex(&server, None), Ok(()));
        });
        assert_eq!(
            wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false),
            Ok(WaitResult::Signaled(0))
        );
    });
    assert_eq!(result(&server, &ov), Err(WsaError::WSA_OPERATION_ABORTED));
}

/// What a routine saw: error code, bytes, data.
type Seen = (i32, u32, Vec<u8>);

#[test]
fn a_cancelled_routine_runs_with_operation_aborted() {
    let (client, server) = tcp_pair();
    let seen: Rc<RefCell<Vec<Seen>>> = Rc::default();
    for _ in 0..2 {
        let seen = seen.clone();
        pending(
            server.recv_with(BufList::zeroed(8), MsgFlags::empty(), move |c| {
                let data = c.buffers.gather(c.bytes as usize);
                seen.borrow_mut().push((c.error.code(), c.bytes, data));
            }),
        );
    }
    assert_eq!(cancel_io_ex(&server, None), Ok(()));
    // Fact 125: the notification happens as usual: the routines run in the
    // next alertable wait, each with WSA_OPERATION_ABORTED.
    while seen.borrow().len() < 2 {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    assert_eq!(*seen.borrow(), vec![(995, 0, vec![]), (995, 0, vec![])]);
    send_all(&client, b"kept");
    assert_eq!(recv_exact(&server, 4), b"kept");
}

#[test]
fn a_pending_send_on_a_full_buffer_is_cancelled_and_reports_what_went() {
    let (client, server) = tcp_pair();
    let queued = fill(&server);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let payload = vec![7u8; 1 << 20];
    pending(server.send(&mut ov, BufList::from(payload), MsgFlags::empty()));
    assert_eq!(cancel_io_ex(&server, Some(&ov)), Ok(()));
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result(&server, &ov), Err(WsaError::WSA_OPERATION_ABORTED));
    let sent = ov.bytes_transferred() as usize;
    assert!(sent < 1 << 20, "not every byte went");
    // The peer receives exactly what was queued plus what the send reported.
    let got = drain(&client);
    assert_eq!(got, queued + sent);
}

#[test]
fn cancels_racing_completions_never_lose_data() {
    // Fact 126 and pitfall 2: a cancel that loses the race leaves the real
    // result and the data in place. Bounded: 300 rounds.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut expected = Vec::new();
    let mut received = Vec::new();
    let (mut aborted, mut won) = (0, 0);
    for round in 0..300u32 {
        let mut ov = Overlapped::new(&event);
        // Data a cancelled round left behind may complete this one at once.
        start_recv_or_done(&server, &mut ov);
        let msg = round.to_le_bytes();
        expected.extend_from_slice(&msg);
        std::thread::scope(|scope| {
            scope.spawn(|| send_all(&client, &msg));
            if round % 3 != 0 {
                std::thread::yield_now();
            }
            let _ = cancel_io_ex(&server, Some(&ov));
        });
        match result(&server, &ov) {
            Ok(n) => {
                won += 1;
                received.extend(ov.take_buffers().unwrap().gather(n as usize));
            }
            Err(WsaError::WSA_OPERATION_ABORTED) => {
                aborted += 1;
                assert_eq!(ov.bytes_transferred(), 0);
            }
            Err(e) => panic!("round {round}: {e}"),
        }
    }
    // Whatever the cancels took, a final read finds: nothing was lost.
    received.extend(recv_exact(&server, expected.len() - received.len()));
    assert_eq!(received, expected);
    eprintln!("race: {aborted} aborted, {won} completed");
    assert_eq!(aborted + won, 300);
}

/// Fills `s`'s send path (its send buffer and the peer's receive buffer)
/// until a non-blocking send would block; returns the bytes queued.
pub fn fill(s: &Socket) -> usize {
    s.as_socket2().set_send_buffer_size(16 * 1024).unwrap();
    s.set_nonblocking(true).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    let mut queued = 0;
    loop {
        match s.send_sync(&[std::io::IoSlice::new(&chunk)], MsgFlags::empty()) {
            Ok(n) => queued += n,
            Err(WsaError::WSAEWOULDBLOCK) => break,
            Err(e) => panic!("fill: {e}"),
        }
    }
    s.set_nonblocking(false).unwrap();
    queued
}

/// Reads everything `s` receives until it has been quiet for 200 ms.
pub fn drain(s: &Socket) -> usize {
    s.as_socket2()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match s.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty()) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(WsaError::WSAEWOULDBLOCK) | Err(WsaError::WSAETIMEDOUT) => return total,
            Err(e) => panic!("drain: {e}"),
        }
    }
}

/// A cancel issued when the data is already in the socket, the receive still
/// pending: on io_uring the receive usually completes with the data (the
/// kernel fills it before the cancel is seen); on the epoll backend it is
/// usually aborted (DESIGN's deviation row: the data stays in the socket).
/// Both are Winsock outcomes of the race (fact 126); what both must keep is
/// that no byte is lost or read twice: an aborted receive took nothing and
/// the next receive reads the data.
#[test]
fn a_cancel_after_the_data_arrived_loses_and_repeats_no_bytes() {
    let (client, server) = tcp_pair();
    for round in 0..20u8 {
        let event = Event::new();
        let mut ov = Overlapped::new(&event);
        start_recv(&server, &mut ov, 64);
        let msg = [round; 10];
        // Loopback: the bytes are in the server's receive queue on return.
        send_all(&client, &msg);
        match cancel_io_ex(&server, Some(&ov)) {
            Ok(()) | Err(WsaError::ERROR_NOT_FOUND) => {}
            Err(e) => panic!("round {round}: cancel: {e}"),
        }
        let mut got = match result(&server, &ov) {
            Ok(n) => ov.take_buffers().unwrap().gather(n as usize),
            Err(WsaError::WSA_OPERATION_ABORTED) => {
                assert_eq!(ov.bytes_transferred(), 0, "round {round}");
                Vec::new()
            }
            Err(e) => panic!("round {round}: {e}"),
        };
        let rest = msg.len() - got.len();
        got.extend(recv_exact(&server, rest));
        assert_eq!(got, msg, "round {round}");
    }
    // Nothing left over: the next bytes are the next message.
    send_all(&client, b"end");
    assert_eq!(recv_exact(&server, 3), b"end");
}

/// Bytes waiting in a socket's receive queue (`in_queue`) or not yet
/// acknowledged by the peer (its send queue).
fn queued(s: &Socket, in_queue: bool) -> i32 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    let request = if in_queue {
        libc::FIONREAD
    } else {
        libc::TIOCOUTQ
    };
    // SAFETY: SIOCINQ/SIOCOUTQ write one c_int to a live local.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), request, &mut n) };
    assert_eq!(r, 0, "ioctl: {}", std::io::Error::last_os_error());
    n
}

#[test]
fn cancel_io_ex_after_the_kernel_completed_the_receive_says_not_found_and_keeps_the_data() {
    // Fact 126: an operation the kernel has already completed is not
    // cancelled; CancelIoEx finds nothing (ERROR_NOT_FOUND), on io_uring
    // too where the completion may still sit unreaped in the ring.
    let (client, server) = tcp_pair();
    let ev = Event::new();
    let mut ov = Overlapped::new(&ev);
    start_recv(&server, &mut ov, 10);
    send_all(&client, b"q");
    // The kernel is done: the peer's byte is acknowledged and no longer
    // queued on the server, so the receive took it (a wait on a
    // condition; the bound only guards against a hang).
    let mut polls = 0;
    while queued(&client, false) != 0 || queued(&server, true) != 0 {
        polls += 1;
        assert!(polls < 20_000, "the byte never reached the receive");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        cancel_io_ex(&server, Some(&ov)),
        Err(WsaError::ERROR_NOT_FOUND)
    );
    assert_eq!(result(&server, &ov), Ok(1));
    assert_eq!(ov.take_buffers().unwrap().gather(1), b"q");
}

#[test]
fn cancel_io_ex_of_a_socket_whose_receive_the_kernel_completed_says_not_found() {
    // Fact 126, the `None` form: the socket's only operation was completed
    // by the kernel before the call (its completion possibly unreaped on
    // io_uring), so there is nothing to cancel and the data stays.
    let (client, server) = tcp_pair();
    let ev = Event::new();
    let mut ov = Overlapped::new(&ev);
    start_recv(&server, &mut ov, 10);
    send_all(&client, b"z");
    let mut polls = 0;
    while queued(&client, false) != 0 || queued(&server, true) != 0 {
        polls += 1;
        assert!(polls < 20_000, "the byte never reached the receive");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(cancel_io_ex(&server, None), Err(WsaError::ERROR_NOT_FOUND));
    assert_eq!(result(&server, &ov), Ok(1));
    assert_eq!(ov.take_buffers().unwrap().gather(1), b"z");
}
