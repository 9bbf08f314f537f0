//! What the peer does to pending operations: resets (facts 130, 131),
//! half-closes and shutdown (facts 63, 67-69), connecting and vanishing,
//! and no longer reading.

mod common;

use common::*;
use overlapped::*;
use std::net::Shutdown;
use std::time::Duration;

fn start_recv(s: &Socket, ov: &mut Overlapped, len: usize) {
    pending(s.recv(ov, BufList::zeroed(len), MsgFlags::empty()));
}

fn result(s: &Socket, ov: &Overlapped) -> WsaResult<u32> {
    get_overlapped_result(s, ov, true).map(|r| r.0)
}

/// Closes `s` abortively: `SO_LINGER {1, 0}`, then close, which sends a reset.
fn reset(s: Socket) {
    s.as_socket2()
        .set_linger(Some(Duration::from_secs(0)))
        .unwrap();
    s.close().unwrap();
}

#[test]
fn peer_reset_completes_a_pending_receive_with_connreset() {
    // Facts 130 and 131: an abortive close sends a reset; the pending
    // receive fails with WSAECONNRESET and 0 bytes, through its event.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 64);
    reset(client);
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result(&server, &ov), Err(WsaError::WSAECONNRESET));
    assert_eq!(ov.bytes_transferred(), 0);
    // A send after the reset fails at once (fact 130), with no notification.
    let mut ov2 = Overlapped::new(&event);
    event.set();
    assert_eq!(
        server.send(&mut ov2, BufList::from(&b"x"[..]), MsgFlags::empty()),
        Err(WsaError::WSAECONNRESET)
    );
    assert!(!event.is_set(), "a failed start signals nothing (fact 1)");
}

#[test]
fn a_receive_after_a_reset_reports_what_linux_reports() {
    // Fact 130 says a receive after the reset fails at once with
    // WSAECONNRESET. Linux reports the reset once; later receives see the
    // end of the stream (0 bytes). Deviation recorded in DESIGN.md.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 64);
    reset(client);
    assert_eq!(result(&server, &ov), Err(WsaError::WSAECONNRESET));
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(0)
    );
}

#[test]
fn peer_reset_fails_a_send_pending_on_a_full_buffer() {
    let (client, server) = tcp_pair();
    client.as_socket2().set_recv_buffer_size(4096).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    // The peer never reads: this send backs up and stays pending.
    pending(server.send(
        &mut ov,
        BufList::from(vec![3u8; 8 << 20]),
        MsgFlags::empty(),
    ));
    std::thread::sleep(Duration::from_millis(20));
    assert!(!ov.is_completed());
    reset(client);
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result(&server, &ov), Err(WsaError::WSAECONNRESET));
    assert!((ov.bytes_transferred() as usize) < 8 << 20);
}

#[test]
fn peer_half_close_completes_a_pending_receive_with_zero_bytes() {
    // Facts 63 and 68: the peer's shutdown(SD_SEND) completes a pending
    // receive with success and 0 bytes; later receives return 0 at once,
    // and the other direction still works.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 64);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(result(&server, &ov), Ok(0));
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(0)
    );
    let mut ov = Overlapped::new(&event);
    match server.send(
        &mut ov,
        BufList::from(&b"still open"[..]),
        MsgFlags::empty(),
    ) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("send after the peer's half-close: {e}"),
    }
    assert_eq!(result(&server, &ov), Ok(10));
    assert_eq!(recv_exact(&client, 10), b"still open");
}

#[test]
fn shutdown_receive_does_not_cancel_a_pending_receive() {
    // Fact 67: a receive pending before shutdown(SD_RECEIVE) still completes
    // with data that arrives later; a new receive fails with WSAESHUTDOWN.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 64);
    server.shutdown(Shutdown::Read).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(!ov.is_completed(), "still pending after SD_RECEIVE");
    send_all(&client, b"later");
    assert_eq!(result(&server, &ov), Ok(5));
    assert_eq!(ov.take_buffers().unwrap().gather(5), b"later");
    let mut ov2 = Overlapped::new(&event);
    assert_eq!(
        server.recv(&mut ov2, BufList::zeroed(8), MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
    let mut buf = [0u8; 4];
    assert_eq!(
        server.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
}

#[test]
fn shutdown_error_cases() {
    // Fact 69.
    let unconnected = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        unconnected.shutdown(Shutdown::Both),
        Err(WsaError::WSAENOTCONN)
    );
    let (client, server) = tcp_pair();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        client.shutdown(Shutdown::Write),
        Ok(()),
        "repeating SD_SEND"
    );
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        client.send(&mut ov, BufList::from(&b"x"[..]), MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
    assert_eq!(
        client.send_sync(&[std::io::IoSlice::new(b"x")], MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
    server.shutdown(Shutdown::Both).unwrap();
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
}

#[test]
fn a_client_that_connects_and_vanishes_ends_the_receive_with_zero_bytes() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let addr = listener.local_addr().unwrap();
    for round in 0..50 {
        let client = Socket::tcp_for(&addr).unwrap();
        client.connect(&addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        let event = Event::new();
        let mut ov = Overlapped::new(&event);
        let abortive = round % 2 == 1;
        if abortive {
            reset(client);
        } else {
            drop(client);
        }
        let r = match server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()) {
            Err(WsaError::WSA_IO_PENDING) => result(&server, &ov),
            other => other,
        };
        if abortive {
            assert!(
                r == Err(WsaError::WSAECONNRESET) || r == Ok(0),
                "round {round}: {r:?}"
            );
        } else {
            assert_eq!(r, Ok(0), "round {round}");
        }
    }
}

#[test]
fn shutdown_of_a_listening_socket_wakes_a_blocked_accept() {
    // Fact 69 says WSAENOTCONN; here the kernel shuts the listener down and
    // a thread blocked in accept wakes with an error (a recorded deviation:
    // it is how a server stops its accepting thread).
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 8).unwrap();
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| listener.accept().map(|_| ()));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(listener.shutdown(Shutdown::Both), Ok(()));
        assert!(waiter.join().unwrap().is_err());
    });
}

#[test]
fn abortive_close_with_a_receive_pending_resets_the_peer() {
    // Fact 131 with an operation pending on the closing side: the receive
    // ends (fact 127), the descriptor closes, the reset goes out.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    start_recv(&server, &mut ov, 16);
    let mut peer = Overlapped::new(&event);
    start_recv(&client, &mut peer, 16);
    reset(server);
    assert_eq!(result(&client, &peer), Err(WsaError::WSAECONNRESET));
    let open = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        get_overlapped_result(&open, &ov, true).map(|r| r.0),
        Err(WsaError::WSAECONNABORTED)
    );
}
