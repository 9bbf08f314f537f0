//! ConnectEx (facts 98–103), SO_UPDATE_CONNECT_CONTEXT, and the alertable
//! blocking connect (fact 7).

mod common;

use common::*;
use overlapped::*;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn bound_for(to: &SocketAddr) -> Socket {
    let s = Socket::tcp_for(to).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    s
}

/// A listener whose accept queue is full: a new connect stays in SYN_SENT
/// (the kernel drops its SYNs) until the queue has room.
fn full_listener() -> (TcpListener, SocketAddr, Vec<TcpStream>) {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 0).unwrap();
    let addr = l.local_addr().unwrap();
    let std_l: TcpListener = l.as_socket2().try_clone().unwrap().into();
    drop(l);
    // A backlog of 0 holds one connection; the next one's SYNs are dropped.
    let fillers = vec![TcpStream::connect(addr).unwrap()];
    (std_l, addr, fillers)
}

#[test]
fn the_send_data_goes_with_the_connection_and_is_counted() {
    // Fact 99.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let s = bound_for(&to);
    let mut ov = Overlapped::new(&Event::new());
    let r = s.connect_ex(&to, &mut ov, BufList::from(b"123".to_vec()));
    assert!(matches!(r, Ok(3) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    assert_eq!(get_overlapped_result(&s, &ov, true).unwrap().0, 3);
    let (mut peer, from) = server.accept().unwrap();
    assert_eq!(from, s.local_addr().unwrap());
    let mut got = [0u8; 3];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"123");
    // No send data: 0 bytes.
    let s2 = bound_for(&to);
    let mut ov2 = Overlapped::new(&Event::new());
    let r = s2.connect_ex(&to, &mut ov2, BufList::new());
    assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    assert_eq!(get_overlapped_result(&s2, &ov2, true).unwrap().0, 0);
    // A completed ConnectEx: another is WSAEISCONN (fact 101).
    assert_eq!(
        s2.connect_ex(&to, &mut ov2, BufList::new()),
        Err(WsaError::WSAEISCONN)
    );
}

#[test]
fn a_large_send_with_the_connection_arrives_whole() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let s = bound_for(&to);
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut ov = Overlapped::new(&Event::new());
    let r = s.connect_ex(&to, &mut ov, BufList::from(data.clone()));
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    let reader = std::thread::spawn(move || {
        let (mut peer, _) = server.accept().unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        got
    });
    assert_eq!(
        get_overlapped_result(&s, &ov, true).unwrap().0 as usize,
        data.len()
    );
    drop(s);
    assert!(reader.join().unwrap() == data);
}

#[test]
fn refused_is_reported_through_the_completion_and_the_socket_may_retry() {
    // Fact 100.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let s = bound_for(&port);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    // A loopback refusal may arrive during the call: still pending + notified.
    pending(s.connect_ex(&port, &mut ov, BufList::from(b"x".to_vec())));
    assert_eq!(
        get_overlapped_result(&s, &ov, true),
        Err(WsaError::WSAECONNREFUSED)
    );
    assert!(event.is_set());
    assert_eq!(ov.bytes_transferred(), 0);
    // Retry on the same socket, now that someone listens there.
    let server = TcpListener::bind(port).unwrap();
    let r = s.connect_ex(&port, &mut ov, BufList::from(b"y".to_vec()));
    assert!(matches!(r, Ok(1) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    assert_eq!(get_overlapped_result(&s, &ov, true).unwrap().0, 1);
    let (mut peer, _) = server.accept().unwrap();
    let mut b = [0u8; 1];
    peer.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"y");
}

#[test]
fn preconditions() {
    // Fact 98.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let mut ov = Overlapped::new(&Event::new());
    let unbound = Socket::tcp_for(&to).unwrap();
    assert_eq!(
        unbound.connect_ex(&to, &mut ov, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    let listening = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1).unwrap();
    assert_eq!(
        listening.connect_ex(&to, &mut ov, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    let (connected, _peer) = tcp_pair();
    assert_eq!(
        connected.connect_ex(&to, &mut ov, BufList::new()),
        Err(WsaError::WSAEISCONN)
    );
    let s = bound_for(&to);
    assert_eq!(
        s.connect_ex(&"0.0.0.0:0".parse().unwrap(), &mut ov, BufList::new()),
        Err(WsaError::WSAEADDRNOTAVAIL)
    );
    let udp = Socket::udp_for(&to).unwrap();
    udp.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(
        udp.connect_ex(&to, &mut ov, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    assert!(
        !ov.event().unwrap().is_set(),
        "nothing started, nothing signalled"
    );
}

#[test]
fn while_connecting_the_socket_is_busy_and_not_connected() {
    // Fact 101, with a connection held in SYN_SENT by a full accept queue.
    let (server, to, _fillers) = full_listener();
    let s = bound_for(&to);
    let mut ov = Overlapped::new(&Event::new());
    pending(s.connect_ex(&to, &mut ov, BufList::from(b"hi".to_vec())));
    std::thread::sleep(Duration::from_millis(20));
    assert!(!ov.is_completed());
    let mut ov2 = Overlapped::new(&Event::new());
    assert_eq!(s.connect(&to), Err(WsaError::WSAEINVAL));
    assert_eq!(
        s.connect_ex(&to, &mut ov2, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(s.peer_addr(), Err(WsaError::WSAENOTCONN));
    assert_eq!(s.local_addr().unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(
        s.recv(&mut ov2, BufList::zeroed(4), MsgFlags::empty()),
        Err(WsaError::WSAENOTCONN)
    );
    assert_eq!(
        s.send(&mut ov2, BufList::from(b"z".to_vec()), MsgFlags::empty()),
        Err(WsaError::WSAENOTCONN)
    );
    // Make room: the SYN's retransmission gets through and the connect completes.
    drop(server.accept().unwrap());
    assert_eq!(get_overlapped_result(&s, &ov, true).unwrap().0, 2);
    let (mut peer, _) = server.accept().unwrap();
    let mut b = [0u8; 2];
    peer.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hi");
}

#[test]
fn closing_a_connecting_socket_aborts_its_connect() {
    let (_server, to, _fillers) = full_listener();
    let s = bound_for(&to);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(s.connect_ex(&to, &mut ov, BufList::new()));
    drop(s);
    assert_eq!(
        wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false).unwrap(),
        WaitResult::Signaled(0)
    );
}

#[test]
fn peer_addr_and_shutdown_need_update_connect_context() {
    // Fact 102.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let s = bound_for(&to);
    assert_eq!(s.update_connect_context(), Err(WsaError::WSAENOTCONN));
    let mut ov = Overlapped::new(&Event::new());
    let _ = s.connect_ex(&to, &mut ov, BufList::new());
    get_overlapped_result(&s, &ov, true).unwrap();
    assert_eq!(s.peer_addr(), Err(WsaError::WSAENOTCONN));
    assert_eq!(
        s.shutdown(std::net::Shutdown::Write),
        Err(WsaError::WSAENOTCONN)
    );
    s.update_connect_context().unwrap();
    assert_eq!(s.peer_addr().unwrap(), to);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(s.connect_time().unwrap(), 0);
}

#[test]
fn with_a_routine_the_connect_completes_on_the_issuing_thread() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let s = bound_for(&to);
    let got: Rc<RefCell<Option<Completion>>> = Rc::default();
    let g = got.clone();
    let r = s.connect_ex_with(&to, BufList::from(b"abc".to_vec()), move |c| {
        *g.borrow_mut() = Some(c)
    });
    assert!(matches!(r, Ok(3) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    while got.borrow().is_none() {
        assert_eq!(sleep_ex(LONG, true).unwrap(), WaitResult::IoCompletion);
    }
    let c = got.borrow_mut().take().unwrap();
    assert_eq!((c.error, c.bytes), (WsaError::NO_ERROR, 3));
    assert_eq!(c.buffers.first(), b"abc");
}

#[test]
fn a_blocking_connect_runs_apcs_while_it_waits() {
    // Fact 7 for connect: held in SYN_SENT; the APC makes room for it.
    let (server, to, fillers) = full_listener();
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        tx.send(ThreadHandle::current().unwrap()).unwrap();
        let s = Socket::tcp_for(&to).unwrap();
        s.connect(&to).map(|_| s.peer_addr().unwrap())
    });
    let handle = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let ran = std::sync::Arc::new(std::sync::Mutex::new(None));
    let r = ran.clone();
    assert!(queue_user_apc(&handle, move || {
        drop(server.accept().unwrap());
        drop(fillers);
        *r.lock().unwrap() = Some((std::thread::current().id(), server));
    }));
    let connected = t.join().unwrap();
    assert_eq!(connected, Ok(to));
    assert!(ran.lock().unwrap().is_some());
}

#[test]
fn a_non_blocking_connect_in_progress() {
    // Fact 101: WSAEWOULDBLOCK, then WSAEALREADY, and ConnectEx is WSAEINVAL.
    let (_server, to, _fillers) = full_listener();
    let s = bound_for(&to);
    s.set_nonblocking(true).unwrap();
    assert_eq!(s.connect(&to), Err(WsaError::WSAEWOULDBLOCK));
    assert_eq!(s.connect(&to), Err(WsaError::WSAEALREADY));
    let mut ov = Overlapped::new(&Event::new());
    assert_eq!(
        s.connect_ex(&to, &mut ov, BufList::new()),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        s.recv(&mut ov, BufList::zeroed(1), MsgFlags::empty()),
        Err(WsaError::WSAENOTCONN)
    );
}
