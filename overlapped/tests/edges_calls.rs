//! Calls that must be refused before anything starts (fact 1): flags a call
//! cannot honour (facts 59-61, 79, 83: the flag table), sends on sockets
//! without a peer (facts 15, 76). Every call of the family, in every mode:
//! event record, event record submitted in a batch, completion routine,
//! synchronous.

mod common;

use common::*;
use overlapped::*;
use std::cell::Cell;
use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Call {
    Recv,
    RecvFrom,
    RecvMsg,
    Send,
    SendTo,
    SendMsg,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Event,
    Batched,
    Routine,
    Sync,
}

const RECEIVES: [Call; 3] = [Call::Recv, Call::RecvFrom, Call::RecvMsg];
const SENDS: [Call; 3] = [Call::Send, Call::SendTo, Call::SendMsg];
const MODES: [Mode; 4] = [Mode::Event, Mode::Batched, Mode::Routine, Mode::Sync];

/// Makes `call` on `s` in `mode` and returns what the call itself returned,
/// after checking that a refused call notified nothing.
fn call(s: &Socket, call: Call, mode: Mode, flags: MsgFlags, to: &SocketAddr) -> WsaResult<u32> {
    let bufs = vec![vec![b'x'; 16]];
    let space = MsgSpace::default();
    let control = Control::new();
    match mode {
        Mode::Event | Mode::Batched => {
            let event = Event::new();
            let mut ov = Overlapped::new(&event);
            set_batching(matches!(mode, Mode::Batched)).unwrap();
            let r = match call {
                Call::Recv => s.recv(&mut ov, bufs, flags),
                Call::RecvFrom => s.recv_from(&mut ov, bufs, flags),
                Call::RecvMsg => s.recv_msg(&mut ov, bufs, space, flags),
                Call::Send => s.send(&mut ov, bufs, flags),
                Call::SendTo => s.send_to(&mut ov, bufs, to, flags),
                Call::SendMsg => s.send_msg(&mut ov, bufs, None, control, flags),
            };
            set_batching(false).unwrap();
            if !matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)) {
                sleep_ex(Some(Duration::from_millis(10)), true).unwrap();
                assert!(!event.is_set(), "fact 1: {call:?} {mode:?} signalled");
            }
            r
        }
        Mode::Routine => {
            let ran = Rc::new(Cell::new(false));
            let r2 = ran.clone();
            let routine = move |_: Completion| r2.set(true);
            let r = match call {
                Call::Recv => s.recv_with(bufs, flags, routine),
                Call::RecvFrom => s.recv_from_with(bufs, flags, routine),
                Call::RecvMsg => s.recv_msg_with(bufs, space, flags, routine),
                Call::Send => s.send_with(bufs, flags, routine),
                Call::SendTo => s.send_to_with(bufs, to, flags, routine),
                Call::SendMsg => s.send_msg_with(bufs, None, control, flags, routine),
            };
            if !matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)) {
                sleep_ex(Some(Duration::from_millis(10)), true).unwrap();
                assert!(!ran.get(), "fact 1: {call:?} routine ran");
            }
            r
        }
        Mode::Sync => {
            let mut buf = [0u8; 16];
            let r = match call {
                Call::Recv => s.recv_sync(&mut [IoSliceMut::new(&mut buf)], flags),
                Call::RecvFrom => {
                    s.recv_from_sync(&mut [IoSliceMut::new(&mut buf)], flags, &mut None)
                }
                Call::RecvMsg => s.recv_msg_sync(
                    &mut [IoSliceMut::new(&mut buf)],
                    space,
                    flags,
                    &mut MsgInfo::default(),
                ),
                Call::Send => s.send_sync(&[IoSlice::new(&buf)], flags),
                Call::SendTo => s.send_to_sync(&[IoSlice::new(&buf)], to, flags),
                Call::SendMsg => s.send_msg_sync(&[IoSlice::new(&buf)], None, &control, flags),
            };
            r.map(|n| n as u32)
        }
    }
}

fn udp_bound() -> Socket {
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s
}

/// The next datagram, synchronously.
fn next_datagram(s: &Socket) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let n = s
        .recv_from_sync(
            &mut [IoSliceMut::new(&mut buf)],
            MsgFlags::empty(),
            &mut None,
        )
        .unwrap();
    buf[..n].to_vec()
}

#[test]
fn udp_receives_refuse_oob_and_waitall_and_consume_nothing() {
    let rx = udp_bound();
    let tx = udp_bound();
    let to = rx.local_addr().unwrap();
    tx.send_to_sync(&[IoSlice::new(b"hello")], &to, MsgFlags::empty())
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let refused = [
        MsgFlags::OOB,
        MsgFlags::WAITALL,
        MsgFlags::PARTIAL,
        MsgFlags::TRUNC,
        MsgFlags::OOB | MsgFlags::PEEK,
    ];
    for flags in refused {
        for c in RECEIVES {
            for mode in MODES {
                assert_eq!(
                    call(&rx, c, mode, flags, &to),
                    Err(WsaError::WSAEOPNOTSUPP),
                    "{flags:?} {c:?} {mode:?}"
                );
            }
        }
    }
    // Fact 79: WSARecvMsg takes MSG_PEEK only.
    for mode in MODES {
        assert_eq!(
            call(&rx, Call::RecvMsg, mode, MsgFlags::DONTROUTE, &to),
            Err(WsaError::WSAEOPNOTSUPP)
        );
    }
    // Nothing started: the datagram is still there, whole.
    assert_eq!(next_datagram(&rx), b"hello");
}

#[test]
fn udp_sends_refuse_oob_and_receive_flags() {
    let rx = udp_bound();
    let tx = udp_bound();
    let to = rx.local_addr().unwrap();
    tx.connect(&to).unwrap();
    for flags in [
        MsgFlags::OOB,
        MsgFlags::PARTIAL,
        MsgFlags::PEEK,
        MsgFlags::WAITALL,
        MsgFlags::CTRUNC,
    ] {
        for c in SENDS {
            for mode in MODES {
                assert_eq!(
                    call(&tx, c, mode, flags, &to),
                    Err(WsaError::WSAEOPNOTSUPP),
                    "{flags:?} {c:?} {mode:?}"
                );
            }
        }
    }
    // Nothing was sent; a valid send still works.
    assert_eq!(
        call(&tx, Call::Send, Mode::Sync, MsgFlags::DONTROUTE, &to),
        Ok(16)
    );
    assert_eq!(next_datagram(&rx), vec![0u8; 16]);
}

#[test]
fn tcp_receives_refuse_waitall_with_peek_or_oob_and_consume_nothing() {
    let (client, server) = tcp_pair();
    send_all(&client, b"abc");
    std::thread::sleep(Duration::from_millis(20));
    let to = client.local_addr().unwrap();
    for flags in [
        MsgFlags::WAITALL | MsgFlags::PEEK,
        MsgFlags::WAITALL | MsgFlags::OOB,
        MsgFlags::PARTIAL,
        MsgFlags::MCAST,
    ] {
        for c in [Call::Recv, Call::RecvFrom] {
            for mode in MODES {
                assert_eq!(
                    call(&server, c, mode, flags, &to),
                    Err(WsaError::WSAEOPNOTSUPP),
                    "{flags:?} {c:?} {mode:?}"
                );
            }
        }
    }
    // Fact 61: MSG_WAITALL in a synchronous call on a non-blocking socket.
    server.set_nonblocking(true).unwrap();
    assert_eq!(
        call(&server, Call::Recv, Mode::Sync, MsgFlags::WAITALL, &to),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    server.set_nonblocking(false).unwrap();
    // Nothing was consumed, and no byte was reported twice.
    assert_eq!(recv_exact(&server, 3), b"abc");
    // Overlapped MSG_WAITALL on its own is fine (fact 61).
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(6), MsgFlags::WAITALL));
    send_all(&client, b"defghi");
    assert_eq!(
        get_overlapped_result(&server, &ov, true),
        Ok((6, MsgFlags::empty()))
    );
    assert_eq!(ov.take_buffers().unwrap().gather(6), b"defghi");
}

#[test]
fn tcp_sends_refuse_receive_flags() {
    let (client, server) = tcp_pair();
    let to = server.local_addr().unwrap();
    for flags in [MsgFlags::PEEK, MsgFlags::WAITALL, MsgFlags::PARTIAL] {
        for c in [Call::Send, Call::SendTo] {
            for mode in MODES {
                assert_eq!(
                    call(&client, c, mode, flags, &to),
                    Err(WsaError::WSAEOPNOTSUPP),
                    "{flags:?} {c:?} {mode:?}"
                );
            }
        }
    }
    send_all(&client, b"ok");
    assert_eq!(recv_exact(&server, 2), b"ok");
}

#[test]
fn sends_on_an_unconnected_udp_socket_are_wsaenotconn() {
    let s = udp_bound();
    let to = udp_bound().local_addr().unwrap();
    for c in [Call::Send, Call::SendMsg] {
        for mode in MODES {
            assert_eq!(
                call(&s, c, mode, MsgFlags::empty(), &to),
                Err(WsaError::WSAENOTCONN),
                "{c:?} {mode:?}"
            );
        }
    }
    // An unbound one too (and it stays unbound: nothing started).
    let unbound = Socket::udp_for(&to).unwrap();
    for mode in MODES {
        assert_eq!(
            call(&unbound, Call::Send, mode, MsgFlags::empty(), &to),
            Err(WsaError::WSAENOTCONN)
        );
    }
    // Once connected, the same calls send.
    s.connect(&to).unwrap();
    assert_eq!(
        call(&s, Call::Send, Mode::Sync, MsgFlags::empty(), &to),
        Ok(16)
    );
}

#[test]
fn a_tcp_socket_that_never_connected_is_wsaenotconn() {
    let s = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for c in [Call::Send, Call::SendTo, Call::Recv, Call::RecvFrom] {
        for mode in MODES {
            assert_eq!(
                call(&s, c, mode, MsgFlags::empty(), &to),
                Err(WsaError::WSAENOTCONN),
                "{c:?} {mode:?}"
            );
        }
    }
    // A listening socket has no peer either.
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1).unwrap();
    for c in [Call::Send, Call::Recv] {
        for mode in MODES {
            assert_eq!(
                call(&listener, c, mode, MsgFlags::empty(), &to),
                Err(WsaError::WSAENOTCONN),
                "listening {c:?} {mode:?}"
            );
        }
    }
}

#[test]
fn a_send_started_by_a_routine_on_an_unconnected_socket_fails_at_the_call() {
    // Operations started while routines run are submitted later, together:
    // the check must still happen at the call (fact 1).
    let (client, server) = tcp_pair();
    let lonely = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let inner = Rc::new(Cell::new(None));
    let i2 = inner.clone();
    pending(
        server.recv_with(BufList::zeroed(4), MsgFlags::empty(), move |_| {
            let mut ov = Overlapped::new(&Event::new());
            i2.set(Some(lonely.send(&mut ov, b"x".to_vec(), MsgFlags::empty())));
        }),
    );
    send_all(&client, b"go");
    while inner.get().is_none() {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    assert_eq!(inner.get(), Some(Err(WsaError::WSAENOTCONN)));
}
