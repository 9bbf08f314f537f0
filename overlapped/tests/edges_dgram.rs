//! Datagram and buffer edges: where Windows keeps a routine's flags and the
//! message's flags (facts 32, 81), control buffers sized the Windows way
//! (fact 80), and buffer arrays longer than the kernel's iovec limit.

mod common;
mod udp_common;

use overlapped::*;
use std::cell::RefCell;
use std::rc::Rc;
use udp_common::{bound_v4, send, LONG};

/// Runs the routine receive `start` and returns its completion.
fn routine_completion(
    start: impl FnOnce(Box<dyn FnOnce(Completion)>) -> WsaResult<u32>,
) -> (WsaResult<u32>, Completion) {
    let slot: Rc<RefCell<Option<Completion>>> = Rc::default();
    let put = slot.clone();
    let call = start(Box::new(move |c| *put.borrow_mut() = Some(c)));
    while slot.borrow().is_none() {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    let c = slot.borrow_mut().take().unwrap();
    (call, c)
}

#[test]
fn a_routine_gets_dwflags_zero_and_the_message_keeps_ctrunc() {
    let rx = bound_v4();
    rx.set_receive_control(ReceiveControl::PktInfo, true)
        .unwrap();
    send(&bound_v4(), b"pktinf", &rx.local_addr().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Fact 81: pending although the datagram was queued, then
    // routine(WSAEMSGSIZE, 6, .., dwFlags = 0); WSAMSG.dwFlags = MSG_CTRUNC.
    let (call, c) = routine_completion(|r| {
        rx.recv_msg_with(
            BufList::zeroed(32),
            MsgSpace::control(1),
            MsgFlags::empty(),
            r,
        )
    });
    assert_eq!(call, Err(WsaError::WSA_IO_PENDING));
    assert_eq!((c.error, c.bytes), (WsaError::WSAEMSGSIZE, 6));
    assert_eq!(c.flags, MsgFlags::empty());
    assert_eq!(c.msg_flags, MsgFlags::CTRUNC);
    assert_eq!(c.buffers.gather(6), b"pktinf");
}

#[test]
fn a_truncated_datagram_gives_the_routine_dwflags_zero() {
    let rx = bound_v4();
    send(&bound_v4(), b"deadbeefs", &rx.local_addr().unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Facts 32, 78: (WSAEMSGSIZE, 6), dwFlags 0.
    let (call, c) =
        routine_completion(|r| rx.recv_from_with(BufList::zeroed(6), MsgFlags::empty(), r));
    assert_eq!(call, Err(WsaError::WSA_IO_PENDING));
    assert_eq!((c.error, c.bytes), (WsaError::WSAEMSGSIZE, 6));
    assert_eq!(c.flags, MsgFlags::empty());
    assert_eq!(c.msg_flags, MsgFlags::TRUNC);
    // The record keeps the message's flags in msg_flags, and its
    // WSAGetOverlappedResult flags are 0 too.
    send(&bound_v4(), b"deadbeefs", &rx.local_addr().unwrap());
    let mut ov = Overlapped::new(&Event::new());
    let _ = rx.recv_from(&mut ov, BufList::zeroed(6), MsgFlags::empty());
    assert_eq!(
        get_overlapped_result(&rx, &ov, true),
        Err(WsaError::WSAEMSGSIZE)
    );
    assert_eq!(ov.bytes_transferred(), 6);
    assert_eq!(ov.msg_flags(), MsgFlags::TRUNC);
    send(&bound_v4(), b"fits", &rx.local_addr().unwrap());
    let _ = rx.recv_from(&mut ov, BufList::zeroed(6), MsgFlags::empty());
    assert_eq!(
        get_overlapped_result(&rx, &ov, true),
        Ok((4, MsgFlags::empty()))
    );
}
