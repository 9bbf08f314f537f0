//! Socket handles (`SOCKET` values): `connect_tcp`, cloning, and a close
//! from one handle seen by the others; `Event::new` as a Winsock programmer
//! writes it.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{pending, recv_exact, send_all, tcp_pair, LONG};
use overlapped::{
    get_overlapped_result, sleep_ex, BufList, Completion, Event, MsgFlags, Overlapped, Socket,
    WaitResult, WsaError,
};

#[test]
fn connect_tcp_connects_and_carries_bytes() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let client = Socket::connect_tcp(&listener.local_addr().unwrap()).unwrap();
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), listener.local_addr().unwrap());
    send_all(&client, b"hello");
    assert_eq!(recv_exact(&server, 5), b"hello");
}

#[test]
fn connect_tcp_to_a_closed_port_is_refused() {
    // A port nobody listens on: bind one, note it, let it go.
    let addr = {
        let s = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1).unwrap();
        s.local_addr().unwrap()
    };
    assert_eq!(
        Socket::connect_tcp(&addr).unwrap_err(),
        WsaError::WSAECONNREFUSED
    );
}

#[test]
fn a_clone_is_the_same_socket_and_dropping_one_keeps_it_open() {
    let (client, server) = tcp_pair();
    let copy = server.clone();
    assert_eq!(
        std::os::fd::AsRawFd::as_raw_fd(&copy),
        std::os::fd::AsRawFd::as_raw_fd(&server)
    );
    drop(server);
    // Still open through the copy: bytes flow both ways.
    send_all(&client, b"ping");
    assert_eq!(recv_exact(&copy, 4), b"ping");
    send_all(&copy, b"pong");
    assert_eq!(recv_exact(&client, 4), b"pong");
    // The last handle closes it: the peer reads the end of the stream.
    drop(copy);
    let mut buf = [0u8; 8];
    let n = client
        .recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())
        .unwrap();
    assert_eq!(n, 0, "end of stream after the last handle went");
}

#[test]
fn close_on_one_handle_closes_it_for_all_and_aborts_pending_operations() {
    let (client, server) = tcp_pair();
    let other = server.clone();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(other.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
    server.close().unwrap(); // closesocket
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    // The other handle names a closed socket now: WSAGetOverlappedResult
    // on it fails as on Windows, so read the record through a live socket.
    assert_eq!(
        get_overlapped_result(&other, &ov, false),
        Err(WsaError::WSAENOTSOCK)
    );
    // Fact 127: a connected stream receive reports the connection aborted.
    let live = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        get_overlapped_result(&live, &ov, false),
        Err(WsaError::WSAECONNABORTED)
    );
    let mut ov2 = Overlapped::new(&event);
    assert_eq!(
        other.recv(&mut ov2, BufList::zeroed(64), MsgFlags::empty()),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(other.clone().close(), Err(WsaError::WSAENOTSOCK));
    // And the peer sees the connection end.
    let mut buf = [0u8; 8];
    let n = client
        .recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn closing_a_listener_wakes_a_clone_blocked_in_accept() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let copy = listener.clone();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        tx.send(copy.accept().map(|_| ())).unwrap();
    });
    // Let the thread block in accept (if it has not yet, it sees the close at once).
    std::thread::sleep(Duration::from_millis(50));
    listener.close().unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("accept woke");
    assert!(
        matches!(got, Err(WsaError::WSAEINTR) | Err(WsaError::WSAENOTSOCK)),
        "{got:?}"
    );
    t.join().unwrap();
}

/// Echoes on `socket` with routines that re-post on their own clone of the
/// handle (no `Rc`), as a Winsock programmer passes a `SOCKET` around.
fn echo(socket: Socket) {
    let handle = socket.clone();
    let _ = socket.recv_with(
        BufList::zeroed(64),
        MsgFlags::empty(),
        move |c: Completion| {
            if !c.error.is_ok() || c.bytes == 0 {
                return; // the routine's handle was the last: the socket closes
            }
            let mut bufs = c.buffers;
            bufs.limit(c.bytes as usize);
            let again = handle.clone();
            let _ = handle.send_with(bufs, MsgFlags::empty(), move |_| echo(again));
        },
    );
}

/// Runs routines (alertable waits) until `client` has `n` bytes to read,
/// or the end of the stream when `n` is 0; bounded by 10 s.
fn pump_and_read(client: &Socket, n: usize) -> Vec<u8> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    client.set_nonblocking(true).unwrap();
    loop {
        assert!(std::time::Instant::now() < deadline, "no echo in 10 s");
        let _ = sleep_ex(Some(Duration::from_millis(10)), true);
        let mut buf = [0u8; 16];
        match client.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty()) {
            Ok(0) if n == 0 => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(WsaError::WSAEWOULDBLOCK) => {}
            Err(e) => panic!("{e}"),
        }
        if n > 0 && got.len() >= n {
            break;
        }
    }
    client.set_nonblocking(false).unwrap();
    got
}

#[test]
fn routines_re_post_with_a_cloned_handle() {
    let (client, server) = tcp_pair();
    echo(server); // the only handles left are inside the routines
    for word in [&b"one"[..], b"two", b"three"] {
        send_all(&client, word);
        assert_eq!(pump_and_read(&client, word.len()), word);
    }
    // Half-closing our side ends the server's receive with 0 bytes: its
    // routine drops the last handle, so the server socket closes and we
    // read the end of the stream.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(pump_and_read(&client, 0), b"");
}

#[test]
fn event_new_is_infallible_and_manual_reset_like_wsacreateevent() {
    let event = Event::new(); // WSACreateEvent
    assert!(event.is_manual_reset());
    assert!(!event.is_set());
    let default = Event::default();
    assert!(default.is_manual_reset() && !default.is_set());
    event.set();
    assert_eq!(
        event.wait(Some(Duration::ZERO)),
        Ok(WaitResult::Signaled(0))
    );
    assert!(event.is_set(), "a manual-reset event stays signalled");
}
