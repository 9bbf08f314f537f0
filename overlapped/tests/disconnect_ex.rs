//! DisconnectEx (facts 104–107): the send side's shutdown, and socket reuse
//! with TF_REUSE_SOCKET.

mod common;

use common::*;
use overlapped::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

const N: u32 = ACCEPT_EX_ADDRESS_LEN;

#[test]
fn errors() {
    // Fact 104.
    let mut ov = Overlapped::new(&Event::new());
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let unconnected = Socket::tcp_for(&addr).unwrap();
    assert_eq!(
        unconnected.disconnect_ex(&mut ov, TransmitFlags::empty()),
        Err(WsaError::WSAENOTCONN)
    );
    let (c, _s) = tcp_pair();
    assert_eq!(
        c.disconnect_ex(&mut ov, TransmitFlags::DISCONNECT),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        c.disconnect_ex(&mut ov, TransmitFlags::from_bits_retain(0x100)),
        Err(WsaError::WSAEINVAL)
    );
    let udp = Socket::udp_for(&addr).unwrap();
    assert_eq!(
        udp.disconnect_ex(&mut ov, TransmitFlags::empty()),
        Err(WsaError::WSAEOPNOTSUPP)
    );
}

#[test]
fn without_reuse_it_is_a_send_side_shutdown() {
    // Facts 105, 106.
    let (c, s) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = c.disconnect_ex(&mut ov, TransmitFlags::empty());
    assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    assert_eq!(get_overlapped_result(&c, &ov, true).unwrap().0, 0);
    assert!(event.is_set());
    assert_eq!(
        c.send(&mut ov, BufList::from(b"x".to_vec()), MsgFlags::empty()),
        Err(WsaError::WSAESHUTDOWN)
    );
    let to = s.peer_addr().unwrap();
    assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
    assert_eq!(
        c.connect(&s.local_addr().unwrap()),
        Err(WsaError::WSAEISCONN)
    );
    let _ = to;
    // The peer reads the end; it may still send, and we receive.
    let mut b = [0u8; 1];
    assert_eq!(
        s.recv_sync(&mut [std::io::IoSliceMut::new(&mut b)], MsgFlags::empty()),
        Ok(0)
    );
    send_all(&s, b"late");
    assert_eq!(recv_exact(&c, 4), b"late");
    // Synchronously, twice: both succeed (fact 105).
    c.disconnect_ex_sync(TransmitFlags::empty()).unwrap();
    c.disconnect_ex_sync(TransmitFlags::empty()).unwrap();
}

#[test]
fn it_waits_for_the_sends_before_it() {
    // Queued in the send lane: the peer gets every byte, then the end.
    let (c, s) = tcp_pair();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut ov_send = Overlapped::new(&Event::new());
    let _ = c.send(&mut ov_send, BufList::from(data.clone()), MsgFlags::empty());
    let mut ov = Overlapped::new(&Event::new());
    let _ = c.disconnect_ex(&mut ov, TransmitFlags::empty());
    let fd = s.as_raw_fd();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = s
                .recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())
                .unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    });
    get_overlapped_result(&c, &ov, true).unwrap();
    assert!(reader.join().unwrap() == data);
    assert!(fd >= 0);
}

/// Accepts one client into `acc` with `AcceptEx` (with a first receive).
fn accept_into(l: &Socket, acc: &Socket, client: &mut TcpStream, msg: &[u8]) {
    let mut ov = Overlapped::new(&Event::new());
    let out = vec![0u8; 64 + 2 * N as usize];
    let r = l.accept_ex(acc, &mut ov, out, 64, N, N);
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    client.write_all(msg).unwrap();
    let n = get_overlapped_result(l, &ov, true).unwrap().0 as usize;
    assert_eq!(&ov.take_buffers().unwrap().first()[..n], msg);
    acc.update_accept_context(l).unwrap();
}

#[test]
fn an_accepted_socket_is_reused_for_accept_ex_with_the_same_descriptor() {
    // Fact 107: a server that recycles one socket, no socket()/close().
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let addr = l.local_addr().unwrap();
    let acc = Socket::tcp_for(&addr).unwrap();
    let fd = acc.as_raw_fd();
    for round in 0..5u8 {
        let mut client = TcpStream::connect(addr).unwrap();
        let msg = [b'a' + round; 3];
        accept_into(&l, &acc, &mut client, &msg);
        assert_eq!(acc.peer_addr().unwrap(), client.local_addr().unwrap());
        send_all(&acc, &msg);
        let mut got = [0u8; 3];
        client.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
        let mut ov = Overlapped::new(&Event::new());
        let r = acc.disconnect_ex(&mut ov, TransmitFlags::REUSE_SOCKET);
        assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
        get_overlapped_result(&acc, &ov, true).unwrap();
        // The client sees the end of the stream.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(acc.as_raw_fd(), fd);
        assert_eq!(acc.peer_addr(), Err(WsaError::WSAENOTCONN));
        assert_eq!(acc.connect_time().unwrap(), CONNECT_TIME_NOT_CONNECTED);
    }
}

#[test]
fn a_connected_socket_is_reused_for_connect_ex() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let s = Socket::tcp_for(&to).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    for round in 0..3u8 {
        let mut ov = Overlapped::new(&Event::new());
        let r = s.connect_ex(&to, &mut ov, BufList::from(vec![round; 2]));
        assert!(matches!(r, Ok(2) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
        assert_eq!(get_overlapped_result(&s, &ov, true).unwrap().0, 2);
        let (mut peer, _) = server.accept().unwrap();
        let mut b = [0u8; 2];
        peer.read_exact(&mut b).unwrap();
        assert_eq!(b, [round; 2]);
        let r = s.disconnect_ex(&mut ov, TransmitFlags::REUSE_SOCKET);
        assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
        get_overlapped_result(&s, &ov, true).unwrap();
        assert_eq!(s.local_addr().unwrap().ip(), to.ip(), "bound again");
    }
}

#[test]
fn a_receive_pending_at_reuse_ends_with_zero_bytes() {
    let (c, _s) = tcp_pair();
    let mut ov_recv = Overlapped::new(&Event::new());
    pending(c.recv(&mut ov_recv, BufList::zeroed(16), MsgFlags::empty()));
    c.disconnect_ex_sync(TransmitFlags::REUSE_SOCKET).unwrap();
    assert_eq!(get_overlapped_result(&c, &ov_recv, true).unwrap().0, 0);
}

#[test]
fn with_a_routine() {
    use std::cell::Cell;
    use std::rc::Rc;
    let (c, _s) = tcp_pair();
    let got = Rc::new(Cell::new(None));
    let g = got.clone();
    let r = c.disconnect_ex_with(TransmitFlags::empty(), move |done| {
        g.set(Some((done.error, done.bytes)))
    });
    assert!(matches!(r, Ok(0) | Err(WsaError::WSA_IO_PENDING)), "{r:?}");
    while got.get().is_none() {
        assert_eq!(sleep_ex(LONG, true).unwrap(), WaitResult::IoCompletion);
    }
    assert_eq!(got.get(), Some((WsaError::NO_ERROR, 0)));
}
