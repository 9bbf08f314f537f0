//! The connection calls with socket handles (closed handles, clones of the
//! listener: facts 88, 94, 98, 104) and with completion ports (facts 90,
//! 93, 103).

mod common;

use common::*;
use overlapped::*;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

const N: u32 = ACCEPT_EX_ADDRESS_LEN;

fn listener() -> (Socket, SocketAddr) {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn out() -> Vec<u8> {
    vec![0u8; 2 * N as usize]
}

#[test]
fn closed_handles_are_not_sockets() {
    // Facts 88, 98, 104: INVALID_SOCKET → WSAENOTSOCK.
    let (l, addr) = listener();
    let mut ov = Overlapped::new(&Event::new());
    let acc = Socket::tcp_for(&addr).unwrap();
    acc.clone().close().unwrap();
    assert_eq!(
        l.accept_ex(&acc, &mut ov, out(), 0, N, N),
        Err(WsaError::WSAENOTSOCK)
    );
    let acc2 = Socket::tcp_for(&addr).unwrap();
    let closed_listener = l.clone();
    l.close().unwrap();
    assert_eq!(
        closed_listener.accept_ex(&acc2, &mut ov, out(), 0, N, N),
        Err(WsaError::WSAENOTSOCK)
    );
    let s = Socket::tcp_for(&addr).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s.clone().close().unwrap();
    assert_eq!(
        s.connect_ex(&addr, &mut ov, BufList::new()),
        Err(WsaError::WSAENOTSOCK)
    );
    let (c, _peer) = tcp_pair();
    c.clone().close().unwrap();
    assert_eq!(
        c.disconnect_ex(&mut ov, TransmitFlags::empty()),
        Err(WsaError::WSAENOTSOCK)
    );
    assert!(!ov.event().unwrap().is_set());
}

#[test]
fn an_accept_on_a_listener_survives_dropping_one_of_its_handles() {
    // Fact 94: only the last handle's close cancels it.
    let (l, addr) = listener();
    let other = l.clone();
    let acc = Socket::tcp_for(&addr).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(other.accept_ex(&acc, &mut ov, out(), 0, N, N));
    drop(other);
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, SHORT, false).unwrap(),
        WaitResult::Timeout
    );
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(get_overlapped_result(&l, &ov, true).unwrap().0, 0);
    acc.update_accept_context(&l).unwrap();
    assert_eq!(acc.peer_addr().unwrap(), client.local_addr().unwrap());
    // Now the last handle goes with another accept pending: cancelled.
    let acc2 = Socket::tcp_for(&addr).unwrap();
    pending(l.accept_ex(&acc2, &mut ov, out(), 0, N, N));
    drop(l);
    assert!(matches!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false),
        Ok(WaitResult::Signaled(0))
    ));
    assert_eq!(ov.bytes_transferred(), 0);
}

#[test]
fn accept_ex_completes_to_the_listeners_key() {
    // Fact 90: listener → 125, accept socket → 236: the packet carries 125.
    let (l, addr) = listener();
    let acc = Socket::tcp_for(&addr).unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&l, 125).unwrap();
    port.associate(&acc, 236).unwrap();
    let mut ov = Overlapped::without_event();
    let mut client = TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut client, b"ab").unwrap();
    let r = l.accept_ex(&acc, &mut ov, vec![0u8; 8 + 2 * N as usize], 8, N, N);
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    let entry = port
        .get_queued_completion_status(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(entry.key, 125);
    assert_eq!(entry.error, WsaError::NO_ERROR);
    assert!(entry.bytes >= 1);
    assert!(entry.overlapped.unwrap().same(&ov));
}

#[test]
fn a_cancelled_accept_ex_queues_an_aborted_packet() {
    // Fact 93 through a port: closing the accept socket.
    let (l, addr) = listener();
    let acc = Socket::tcp_for(&addr).unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&l, 7).unwrap();
    let mut ov = Overlapped::without_event();
    pending(l.accept_ex(&acc, &mut ov, out(), 0, N, N));
    drop(acc);
    let entry = port
        .get_queued_completion_status(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        (entry.key, entry.error, entry.bytes),
        (7, WsaError::WSA_OPERATION_ABORTED, 0)
    );
}

#[test]
fn connect_ex_queues_a_packet_and_connect_does_not() {
    // Fact 103.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let port = CompletionPort::new(1).unwrap();
    let plain = Socket::tcp_for(&to).unwrap();
    port.associate(&plain, 1).unwrap();
    plain.connect(&to).unwrap();
    assert!(port
        .get_queued_completion_status(Some(Duration::from_millis(50)))
        .is_err());
    let s = Socket::tcp_for(&to).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    port.associate(&s, 2).unwrap();
    let mut ov = Overlapped::without_event();
    let r = s.connect_ex(&to, &mut ov, BufList::from(b"123".to_vec()));
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    let entry = port
        .get_queued_completion_status(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        (entry.key, entry.bytes, entry.error),
        (2, 3, WsaError::NO_ERROR)
    );
}
