//! AcceptEx and GetAcceptExSockaddrs (facts 84–97), and the alertable
//! blocking accept (fact 7).

mod common;

use common::*;
use overlapped::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

const N: u32 = ACCEPT_EX_ADDRESS_LEN;

fn listener() -> (Socket, SocketAddr) {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

fn fresh(addr: &SocketAddr) -> Socket {
    Socket::tcp_for(addr).unwrap()
}

fn out(receive: u32) -> Vec<u8> {
    vec![0u8; (receive + 2 * N) as usize]
}

#[test]
fn completes_on_the_listener_when_a_connection_arrives_with_both_addresses() {
    // Facts 85, 91.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    assert!(!event.is_set());
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false).unwrap(),
        WaitResult::Signaled(0)
    );
    assert_eq!(get_overlapped_result(&l, &ov, false).unwrap().0, 0);
    let buf = ov.take_buffers().unwrap().into_inner().remove(0);
    let a = get_accept_ex_sockaddrs(&buf, 0, N, N);
    assert_eq!(a.local, Some(addr));
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
}

#[test]
fn without_an_event_the_listeners_own_event_is_signalled() {
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::without_event();
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    let _client = TcpStream::connect(addr).unwrap();
    assert_eq!(
        wait_for_single_object_ex(l.event(), LONG, false).unwrap(),
        WaitResult::Signaled(0)
    );
    assert!(!acc.event().is_set());
}

#[test]
fn receive_with_accept_waits_for_the_first_data_and_returns_what_came() {
    // Fact 86: connecting is not enough; 1 byte of 2 asked for completes it.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(l.accept_ex(&acc, &mut ov, out(2), 2, N, N));
    let mut client = TcpStream::connect(addr).unwrap();
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, SHORT, false).unwrap(),
        WaitResult::Timeout
    );
    assert_eq!(
        get_overlapped_result(&l, &ov, false),
        Err(WsaError::WSA_IO_INCOMPLETE)
    );
    client.write_all(b"x").unwrap();
    assert_eq!(get_overlapped_result(&l, &ov, true).unwrap().0, 1);
    let buf = ov.take_buffers().unwrap().into_inner().remove(0);
    assert_eq!(buf[0], b'x');
    let a = get_accept_ex_sockaddrs(&buf, 2, N, N);
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
    // The accept socket is the connection: it echoes.
    acc.update_accept_context(&l).unwrap();
    send_all(&acc, b"back");
    let mut got = [0u8; 4];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"back");
}

#[test]
fn a_client_that_closes_before_sending_completes_it_with_zero_bytes() {
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(16), 16, N, N));
    drop(TcpStream::connect(addr).unwrap());
    assert_eq!(
        get_overlapped_result(&l, &ov, true),
        Ok((0, MsgFlags::empty()))
    );
}

#[test]
fn address_area_rules() {
    // Fact 87.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    assert_eq!(
        l.accept_ex(&acc, &mut ov, out(0), 0, N, 0),
        Err(WsaError::WSAEFAULT)
    );
    assert_eq!(
        l.accept_ex(&acc, &mut ov, vec![0; 10], 0, N, N),
        Err(WsaError::WSAEFAULT),
        "a buffer shorter than the three lengths"
    );
    // A local length of 0: accepted, only the remote address is written.
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, 0, N));
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(get_overlapped_result(&l, &ov, true).unwrap().0, 0);
    let buf = ov.take_buffers().unwrap().into_inner().remove(0);
    let a = get_accept_ex_sockaddrs(&buf, 0, 0, N);
    assert_eq!(a.local, None);
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
}

#[test]
fn a_too_small_area_fails_with_insufficient_buffer_and_leaves_the_connection_queued() {
    // Fact 87: pending, then ERROR_INSUFFICIENT_BUFFER, 0 bytes; accept() gets it.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, 3, N));
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(
        get_overlapped_result(&l, &ov, true),
        Err(WsaError::ERROR_INSUFFICIENT_BUFFER)
    );
    assert_eq!(ov.bytes_transferred(), 0);
    assert_eq!(acc.peer_addr(), Err(WsaError::WSAENOTCONN));
    let (_s, from) = l.accept().unwrap();
    assert_eq!(from, client.local_addr().unwrap());
    // And the accept socket is free for another try.
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    let _c2 = TcpStream::connect(addr).unwrap();
    assert_eq!(get_overlapped_result(&l, &ov, true).unwrap().0, 0);
}

#[test]
fn accept_socket_preconditions() {
    // Fact 88.
    let (l, addr) = listener();
    let mut ov = Overlapped::new(&Event::new());
    let udp = Socket::udp_for(&addr).unwrap();
    assert_eq!(
        l.accept_ex(&udp, &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    let bound = fresh(&addr);
    bound.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        l.accept_ex(&bound, &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    let (connected, _peer) = tcp_pair();
    assert_eq!(
        l.accept_ex(&connected, &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        l.accept_ex(&l, &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    let v6 = Socket::tcp_for(&"[::1]:1".parse().unwrap()).unwrap();
    assert_eq!(
        l.accept_ex(&v6, &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL),
        "an accept socket of the other family"
    );
    let not_listening = fresh(&addr);
    assert_eq!(
        not_listening.accept_ex(&fresh(&addr), &mut ov, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    // An accept socket that already has an AcceptEx pending (fact 88), and
    // connect/ConnectEx on it (fact 89).
    let acc = fresh(&addr);
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    let mut ov2 = Overlapped::new(&Event::new());
    assert_eq!(
        l.accept_ex(&acc, &mut ov2, out(0), 0, N, N),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(acc.connect(&addr), Err(WsaError::WSAEINVAL));
    assert_eq!(
        acc.connect_ex(&addr, &mut ov2, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    // No notification for what never started.
    assert!(!ov2.event().unwrap().is_set());
}

#[test]
fn the_accepted_socket_needs_update_accept_context() {
    // Fact 92.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    let client = TcpStream::connect(addr).unwrap();
    get_overlapped_result(&l, &ov, true).unwrap();
    assert_eq!(acc.local_addr(), Err(WsaError::WSAENOTCONN));
    assert_eq!(acc.peer_addr(), Err(WsaError::WSAENOTCONN));
    assert_eq!(
        acc.shutdown(std::net::Shutdown::Write),
        Err(WsaError::WSAENOTCONN)
    );
    // Sending and receiving work before it.
    send_all(&acc, b"ok");
    acc.update_accept_context(&l).unwrap();
    assert_eq!(acc.local_addr().unwrap(), addr);
    assert_eq!(acc.peer_addr().unwrap(), client.local_addr().unwrap());
    acc.update_accept_context(&l).unwrap();
    let (plain, _) = tcp_pair();
    assert_eq!(
        fresh(&addr).update_accept_context(&l),
        Err(WsaError::WSAEINVAL)
    );
    drop(plain);
}

#[test]
fn closing_the_accept_socket_cancels_but_cancel_io_on_it_does_not() {
    // Fact 93.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    cancel_io(&acc).unwrap();
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, SHORT, false).unwrap(),
        WaitResult::Timeout,
        "CancelIo on the accept socket leaves the AcceptEx pending"
    );
    drop(acc);
    assert_eq!(
        get_overlapped_result(&l, &ov, true),
        Err(WsaError::WSA_OPERATION_ABORTED)
    );
    // The listener still works, and took no connection for it.
    let client = TcpStream::connect(addr).unwrap();
    let (_s, from) = l.accept().unwrap();
    assert_eq!(from, client.local_addr().unwrap());
}

#[test]
fn closing_the_listener_cancels_every_accept_pending_on_it() {
    let (l, addr) = listener();
    let accs: Vec<Socket> = (0..4).map(|_| fresh(&addr)).collect();
    let mut ovs: Vec<Overlapped> = accs
        .iter()
        .map(|_| Overlapped::new(&Event::new()))
        .collect();
    for (acc, ov) in accs.iter().zip(ovs.iter_mut()) {
        pending(l.accept_ex(acc, ov, out(8), 8, N, N));
    }
    // One of them has its connection and waits for data.
    let _client = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let events: Vec<Event> = ovs.iter().map(|o| o.event().unwrap().clone()).collect();
    drop(l);
    for ev in &events {
        assert_eq!(
            wait_for_multiple_events(std::slice::from_ref(ev), false, LONG, false).unwrap(),
            WaitResult::Signaled(0)
        );
    }
    for ov in &ovs {
        assert_eq!(ov.bytes_transferred(), 0);
    }
}

#[test]
fn cancel_io_ex_on_the_listener_cancels_one_accept() {
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, N, N));
    cancel_io_ex(&l, Some(&ov)).unwrap();
    assert_eq!(
        get_overlapped_result(&l, &ov, true),
        Err(WsaError::WSA_OPERATION_ABORTED)
    );
    assert_eq!(cancel_io_ex(&l, None), Err(WsaError::ERROR_NOT_FOUND));
}

#[test]
fn closing_the_accept_socket_while_the_first_data_is_awaited_aborts_with_zero_bytes() {
    // Fact 95.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(8), 8, N, N));
    let mut client = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(acc);
    let r = get_overlapped_result(&l, &ov, true);
    assert!(
        r == Err(WsaError::WSA_OPERATION_ABORTED) || r == Err(WsaError::WSAECONNABORTED),
        "{r:?}"
    );
    assert_eq!(ov.bytes_transferred(), 0);
    // The client sees the connection end.
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(client.read(&mut b), Ok(0) | Err(_)));
}

#[test]
fn dozens_of_accepts_posted_at_once_each_get_one_client() {
    let (l, addr) = listener();
    const K: usize = 48;
    let accs: Vec<Socket> = (0..K).map(|_| fresh(&addr)).collect();
    let mut events = EventSet::new();
    let mut ovs = Vec::new();
    for acc in &accs {
        let ev = Event::new();
        let mut ov = Overlapped::new(&ev);
        pending(l.accept_ex(acc, &mut ov, out(8), 8, N, N));
        events.push(ev);
        ovs.push(ov);
    }
    let mut clients = Vec::new();
    for i in 0..K {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(format!("c{i:03}").as_bytes()).unwrap();
        clients.push(c);
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < K {
        let WaitResult::Signaled(i) = events.wait(false, LONG, false).unwrap() else {
            panic!("timed out with {} of {K}", seen.len());
        };
        events.events()[i].reset();
        assert_eq!(get_overlapped_result(&l, &ovs[i], false).unwrap().0, 4);
        let buf = ovs[i].take_buffers().unwrap().into_inner().remove(0);
        let name = String::from_utf8(buf[..4].to_vec()).unwrap();
        // Each accept socket echoes to its own client.
        send_all(&accs[i], name.as_bytes());
        assert!(seen.insert(name));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got = [0u8; 4];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, *format!("c{i:03}").as_bytes());
    }
}

#[test]
fn with_a_routine_the_accept_completes_on_the_issuing_thread() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let (l, addr) = listener();
    let acc = fresh(&addr);
    let got: Rc<RefCell<Option<Completion>>> = Rc::default();
    let g = got.clone();
    pending(l.accept_ex_with(&acc, out(4), 4, N, N, move |c| *g.borrow_mut() = Some(c)));
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"ping").unwrap();
    while got.borrow().is_none() {
        assert_eq!(sleep_ex(LONG, true).unwrap(), WaitResult::IoCompletion);
    }
    let c = got.borrow_mut().take().unwrap();
    assert_eq!((c.error, c.bytes), (WsaError::NO_ERROR, 4));
    assert_eq!(&c.buffers.first()[..4], b"ping");
    let a = get_accept_ex_sockaddrs(c.buffers.first(), 4, N, N);
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
}

#[test]
fn connect_time_tells_silent_clients() {
    // Fact 97: 0xFFFFFFFF before, seconds after.
    let (l, addr) = listener();
    let acc = fresh(&addr);
    assert_eq!(acc.connect_time().unwrap(), CONNECT_TIME_NOT_CONNECTED);
    let mut ov = Overlapped::new(&Event::new());
    pending(l.accept_ex(&acc, &mut ov, out(8), 8, N, N));
    let _silent = TcpStream::connect(addr).unwrap();
    // The accept is pending (no data) but the connection is there.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while acc.connect_time().unwrap() == CONNECT_TIME_NOT_CONNECTED {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(acc.connect_time().unwrap() <= 1);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(acc.connect_time().unwrap() >= 1);
    assert!(!ov.is_completed(), "still waiting for the first data");
}

#[test]
fn ipv6_listener_and_addresses() {
    let l = Socket::listen_tcp(&"[::1]:0".parse().unwrap(), 8).unwrap();
    let addr = l.local_addr().unwrap();
    let acc = fresh(&addr);
    let mut ov = Overlapped::new(&Event::new());
    // 32 bytes fit an IPv4 address, not an IPv6 one.
    pending(l.accept_ex(&acc, &mut ov, out(0), 0, 32, N));
    let client = TcpStream::connect(addr).unwrap();
    assert_eq!(
        get_overlapped_result(&l, &ov, true),
        Err(WsaError::ERROR_INSUFFICIENT_BUFFER)
    );
    // The connection is queued already: it may complete at once (fact 85).
    let r = l.accept_ex(&acc, &mut ov, out(0), 0, N, N);
    assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    get_overlapped_result(&l, &ov, true).unwrap();
    let buf = ov.take_buffers().unwrap().into_inner().remove(0);
    let a = get_accept_ex_sockaddrs(&buf, 0, N, N);
    assert_eq!(a.local, Some(addr));
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
}

#[test]
fn a_blocking_accept_runs_apcs_while_it_waits() {
    // Fact 7 for accept: the APC itself makes the connection.
    let (l, addr) = listener();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        tx.send(ThreadHandle::current().unwrap()).unwrap();
        let (s, from) = l.accept().unwrap();
        (s.as_raw_fd() >= 0, from)
    });
    let handle = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let (ctx, crx) = std::sync::mpsc::channel();
    assert!(queue_user_apc(&handle, move || {
        ctx.send(TcpStream::connect(addr).unwrap()).unwrap();
    }));
    let (ok, from) = t.join().unwrap();
    let client = crx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(ok);
    assert_eq!(from, client.local_addr().unwrap());
}

#[test]
fn a_blocking_accept_that_need_not_wait_runs_no_apc() {
    let (l, addr) = listener();
    let _c = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ran.clone();
    let me = ThreadHandle::current().unwrap();
    assert!(queue_user_apc(&me, move || r
        .store(true, std::sync::atomic::Ordering::SeqCst)));
    l.accept().unwrap();
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    sleep_ex(Some(Duration::ZERO), true).unwrap();
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[test]
fn a_non_blocking_listener_says_would_block() {
    let (l, _addr) = listener();
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().err(), Some(WsaError::WSAEWOULDBLOCK));
}

/// A connection the peer resets before the blocking `accept` takes it is
/// `WSAECONNRESET` (Microsoft's `accept` page), not `WSAENOTCONN`; the
/// next connection is accepted normally, with its address.
#[test]
fn a_blocking_accept_of_a_connection_reset_before_it_is_wsaeconnreset() {
    let (l, addr) = listener();
    let gone = TcpStream::connect(addr).unwrap();
    socket2::SockRef::from(&gone)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(gone); // an RST: loopback delivers it before connect's peer is accepted
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(l.accept().map(|(_, a)| a), Err(WsaError::WSAECONNRESET));
    let client = TcpStream::connect(addr).unwrap();
    let (accepted, peer) = l.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    drop(accepted);
}
