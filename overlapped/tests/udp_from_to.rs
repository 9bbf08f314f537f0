//! WSARecvFrom / WSASendTo on real loopback sockets, in the three modes
//! (facts 10, 11, 32, 46, 71-78 and the rules for bad input).

mod udp_common;

use std::net::SocketAddr;

use overlapped::*;
use udp_common::*;

#[test]
fn source_address_is_written_at_completion_in_every_mode() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        send(&a, b"hello", &b.local_addr().unwrap());
        let got = recv(mode, &b, vec![vec![0; 16]], None);
        assert_eq!(got.result, Ok(5), "{mode:?}");
        assert_eq!(got.data(), b"hello");
        assert_eq!(got.from, Some(a.local_addr().unwrap()), "{mode:?}: fact 71");
    }
}

#[test]
fn pending_receive_has_no_address_until_it_completes() {
    let (a, b) = (bound_v4(), bound_v4());
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = b.recv_from(&mut ov, BufList::zeroed(8), MsgFlags::empty());
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert_eq!(
        ov.source_addr(),
        None,
        "fact 71: nothing written while pending"
    );
    send(&a, b"x", &b.local_addr().unwrap());
    assert_eq!(
        get_overlapped_result(&b, &ov, true),
        Ok((1, MsgFlags::empty()))
    );
    assert_eq!(ov.source_addr(), Some(a.local_addr().unwrap()));
}

#[test]
fn scatter_receive_and_gather_send_keep_one_datagram() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        let to = b.local_addr().unwrap();
        // Fact 11: two buffers, one datagram.
        let sent = send_mode(
            mode,
            &a,
            vec![b"dead".to_vec(), b"beefs".to_vec()],
            Some(&to),
            None,
        );
        assert_eq!(sent, Ok(9), "{mode:?}");
        // Fact 10: filled in order, without holes.
        let got = recv(mode, &b, vec![vec![0; 4], vec![0; 5], vec![0; 3]], None);
        assert_eq!(got.result, Ok(9), "{mode:?}");
        assert_eq!(got.bufs[0], b"dead");
        assert_eq!(got.bufs[1], b"beefs");
        assert_eq!(got.bufs[2], [0, 0, 0]);
    }
}

#[test]
fn oversized_datagram_is_truncated_with_wsaemsgsize() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        let to = b.local_addr().unwrap();
        send(&a, b"deadbeefs", &to);
        send(&a, b"next", &to);
        // Facts 32, 46, 78: WSAEMSGSIZE, the 6 bytes that fit delivered and counted.
        let got = recv(mode, &b, vec![vec![0; 2], vec![0; 4]], None);
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?}");
        assert_eq!(got.bytes, 6, "{mode:?}");
        assert_eq!(got.data(), b"deadbe");
        assert_eq!(got.from, Some(a.local_addr().unwrap()));
        if mode != Mode::Sync {
            // Facts 78/81: an overlapped truncation is reported as pending,
            // then completes with the warning; never as a failed start.
            assert_eq!(got.call, Err(WsaError::WSA_IO_PENDING), "{mode:?}");
            assert!(got.flags.contains(MsgFlags::TRUNC), "{mode:?}");
        }
        // The rest was dropped: the next receive gets the next datagram.
        let got = recv(mode, &b, vec![vec![0; 16]], None);
        assert_eq!(got.result, Ok(4));
        assert_eq!(got.data(), b"next");
    }
}

#[test]
fn zero_length_datagrams_are_zero_byte_completions() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        let to = b.local_addr().unwrap();
        assert_eq!(
            send_mode(mode, &a, vec![Vec::new()], Some(&to), None),
            Ok(0)
        );
        send(&a, b"after", &to);
        let got = recv(mode, &b, vec![vec![0; 8]], None);
        assert_eq!(got.result, Ok(0), "{mode:?}");
        assert_eq!(
            got.from,
            Some(a.local_addr().unwrap()),
            "not end-of-stream: it has a sender"
        );
        let got = recv(mode, &b, vec![vec![0; 8]], None);
        assert_eq!(got.data(), b"after", "{mode:?}: the socket goes on");
    }
}

#[test]
fn tcp_ignores_the_addresses() {
    let (client, server) = tcp_pair();
    for mode in MODES {
        // Fact 72: sendto on TCP ignores the address...
        let bogus: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            send_mode(mode, &client, vec![b"abc".to_vec()], Some(&bogus), None),
            Ok(3)
        );
        // ...and recvfrom leaves it unwritten.
        let got = recv(mode, &server, vec![vec![0; 3]], None);
        assert_eq!(got.result, Ok(3), "{mode:?}");
        assert_eq!(got.data(), b"abc");
        assert_eq!(got.from, None, "{mode:?}");
    }
    client
        .send_to_sync(
            &[std::io::IoSlice::new(b"z")],
            &"127.0.0.1:9".parse().unwrap(),
            MsgFlags::empty(),
        )
        .unwrap();
    let marker: SocketAddr = "10.0.0.1:1".parse().unwrap();
    let mut from = Some(marker);
    let mut buf = [0u8; 1];
    let n = server
        .recv_from_sync(
            &mut [std::io::IoSliceMut::new(&mut buf)],
            MsgFlags::empty(),
            &mut from,
        )
        .unwrap();
    assert_eq!(
        (n, from),
        (1, Some(marker)),
        "fact 72: the address is left as it was"
    );
}

fn tcp_pair() -> (Socket, Socket) {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Socket::tcp_for(&addr).unwrap();
    client.connect(&addr).unwrap();
    (client, listener.accept().unwrap().0)
}

#[test]
fn sending_binds_an_unbound_socket() {
    for mode in MODES {
        let b = bound_v4();
        let a = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(a.local_addr().unwrap().port(), 0, "unbound before");
        let to = b.local_addr().unwrap();
        assert_eq!(
            send_mode(mode, &a, vec![b"hi".to_vec()], Some(&to), None),
            Ok(2)
        );
        // Fact 74: bound to the wildcard and an ephemeral port.
        let local = a.local_addr().unwrap();
        assert_ne!(local.port(), 0, "{mode:?}");
        assert_eq!(
            recv(mode, &b, vec![vec![0; 4]], None).from.unwrap().port(),
            local.port()
        );
    }
}

#[test]
fn receiving_on_an_unbound_socket_is_wsaeinval() {
    for mode in MODES {
        let a = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
        let got = recv(mode, &a, vec![vec![0; 4]], None);
        assert_eq!(got.call, Err(WsaError::WSAEINVAL), "{mode:?}: fact 75");
    }
}

#[test]
fn connected_socket_hears_only_its_peer() {
    for mode in MODES {
        let (a, peer, other) = (bound_v4(), bound_v4(), bound_v4());
        a.connect(&peer.local_addr().unwrap()).unwrap();
        let to = a.local_addr().unwrap();
        send(&other, b"stranger", &to);
        send(&peer, b"peer", &to);
        // Fact 76: the stranger's datagram is dropped.
        let got = recv(mode, &a, vec![vec![0; 16]], None);
        assert_eq!(got.data(), b"peer", "{mode:?}");
        assert_eq!(got.from, Some(peer.local_addr().unwrap()));
        // Sending without an address goes to the peer; unconnected, it is WSAENOTCONN.
        assert_eq!(
            send_mode(mode, &a, vec![b"p".to_vec()], None, Some(Control::new())),
            Ok(1)
        );
        assert_eq!(recv(mode, &peer, vec![vec![0; 4]], None).data(), b"p");
        assert_eq!(
            send_mode(
                mode,
                &other,
                vec![b"p".to_vec()],
                None,
                Some(Control::new())
            ),
            Err(WsaError::WSAENOTCONN)
        );
    }
}

#[test]
fn sends_to_a_closed_port_succeed() {
    let a = bound_v4();
    let closed = bound_v4().local_addr().unwrap(); // dropped: nobody listens there
    for mode in MODES {
        for _ in 0..3 {
            assert_eq!(
                send_mode(mode, &a, vec![b"x".to_vec()], Some(&closed), None),
                Ok(1),
                "fact 77"
            );
        }
    }
}

#[test]
fn ipv6_and_dual_stack() {
    for mode in MODES {
        let (a, b) = (bound_v6(), bound_v6());
        let to = b.local_addr().unwrap();
        assert_eq!(
            send_mode(mode, &a, vec![b"six".to_vec()], Some(&to), None),
            Ok(3)
        );
        let got = recv(mode, &b, vec![vec![0; 8]], None);
        assert_eq!(got.data(), b"six");
        assert_eq!(got.from, Some(a.local_addr().unwrap()), "{mode:?}");

        // A dual-stack socket hears IPv4 senders, as v4-mapped addresses.
        let dual = Socket::new(Domain::IPV6, Type::DGRAM, None).unwrap();
        dual.as_socket2().set_only_v6(false).unwrap();
        dual.bind(&"[::]:0".parse().unwrap()).unwrap();
        let port = dual.local_addr().unwrap().port();
        let v4 = bound_v4();
        send(
            &v4,
            b"four",
            &SocketAddr::new("127.0.0.1".parse().unwrap(), port),
        );
        let got = recv(mode, &dual, vec![vec![0; 8]], None);
        assert_eq!(got.data(), b"four", "{mode:?}");
        let from = got.from.unwrap();
        let SocketAddr::V6(from6) = from else {
            panic!("{from}")
        };
        assert_eq!(
            from6.ip().to_ipv4_mapped(),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(from.port(), v4.local_addr().unwrap().port());
        // And answers them through the mapped address.
        assert_eq!(
            send_mode(mode, &dual, vec![b"back".to_vec()], Some(&from), None),
            Ok(4)
        );
        assert_eq!(recv(mode, &v4, vec![vec![0; 8]], None).data(), b"back");
    }
}

#[test]
fn bad_input_is_a_winsock_error() {
    let (a, b) = (bound_v4(), bound_v4());
    let to = b.local_addr().unwrap();
    let six: SocketAddr = "[::1]:5".parse().unwrap();
    for mode in MODES {
        // Zero buffers.
        assert_eq!(
            recv(mode, &b, Vec::new(), None).call,
            Err(WsaError::WSAEINVAL)
        );
        assert_eq!(
            send_mode(mode, &a, Vec::new(), Some(&to), None),
            Err(WsaError::WSAEINVAL)
        );
        // An address of the other family.
        assert_eq!(
            send_mode(mode, &a, vec![b"x".to_vec()], Some(&six), None),
            Err(WsaError::WSAEAFNOSUPPORT)
        );
        assert_eq!(
            send_mode(mode, &bound_v6(), vec![b"x".to_vec()], Some(&to), None),
            Err(WsaError::WSAEAFNOSUPPORT)
        );
        // Over the largest UDP payload.
        assert_eq!(
            send_mode(
                mode,
                &a,
                vec![vec![1; 65_000], vec![2; 508]],
                Some(&to),
                None
            ),
            Err(WsaError::WSAEMSGSIZE),
            "{mode:?}"
        );
    }
    let v6 = bound_v6();
    let v6_to = bound_v6().local_addr().unwrap();
    assert_eq!(
        send_mode(
            Mode::Event,
            &v6,
            vec![vec![0; MAX_DATAGRAM_V6 + 1]],
            Some(&v6_to),
            None
        ),
        Err(WsaError::WSAEMSGSIZE)
    );
    // Flags a datagram cannot honour (facts 59, 61).
    let mut ov = Overlapped::default();
    assert_eq!(
        b.recv_from(&mut ov, BufList::zeroed(4), MsgFlags::OOB),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    assert_eq!(
        b.recv_from(&mut ov, BufList::zeroed(4), MsgFlags::WAITALL),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    assert_eq!(
        a.send_to(&mut ov, BufList::zeroed(4), &to, MsgFlags::PARTIAL),
        Err(WsaError::WSAEOPNOTSUPP)
    );
}

#[test]
fn largest_datagram_goes_through_whole() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        b.as_socket2().set_recv_buffer_size(1 << 20).unwrap();
        let to = b.local_addr().unwrap();
        let data: Vec<u8> = (0..MAX_DATAGRAM_V4)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        assert_eq!(
            send_mode(mode, &a, vec![data.clone()], Some(&to), None),
            Ok(65_507)
        );
        let got = recv(mode, &b, vec![vec![0; 70_000]], None);
        assert_eq!(got.result, Ok(65_507), "{mode:?}");
        assert!(got.data() == data);
    }
}

#[test]
fn icmp_port_unreachable_is_wsaeconnreset_on_a_connected_socket() {
    for mode in MODES {
        let a = bound_v4();
        let closed = bound_v4().local_addr().unwrap();
        a.connect(&closed).unwrap();
        assert_eq!(
            send_mode(mode, &a, vec![b"x".to_vec()], Some(&closed), None),
            Ok(1)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Fact 77: the ICMP error shows on the next receive.
        let got = recv(mode, &a, vec![vec![0; 4]], None);
        assert_eq!(got.result, Err(WsaError::WSAECONNRESET), "{mode:?}");
    }
}

/// The same through `WSARecv` (`Socket::recv`), pending when the ICMP comes
/// and started after it, and the synchronous `recv` (fact 77: WSARecv's
/// page lists WSAECONNRESET for this; Linux says ECONNREFUSED).
#[test]
fn icmp_port_unreachable_is_wsaeconnreset_for_wsarecv_and_recv_too() {
    let unreachable = || {
        let a = bound_v4();
        let closed = bound_v4().local_addr().unwrap();
        a.connect(&closed).unwrap();
        (a, closed)
    };
    // Started after the ICMP arrived.
    let (a, closed) = unreachable();
    send(&a, b"x", &closed);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut ov = Overlapped::default();
    let r = match a.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()) {
        Err(WsaError::WSA_IO_PENDING) => get_overlapped_result(&a, &ov, true).map(|r| r.0),
        r => r,
    };
    assert_eq!(r, Err(WsaError::WSAECONNRESET), "WSARecv after the ICMP");
    // Pending when it arrives.
    let (a, closed) = unreachable();
    let mut ov = Overlapped::default();
    assert_eq!(
        a.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    send(&a, b"x", &closed);
    assert_eq!(
        get_overlapped_result(&a, &ov, true).map(|r| r.0),
        Err(WsaError::WSAECONNRESET),
        "a pending WSARecv"
    );
    // The synchronous receive.
    let (a, closed) = unreachable();
    send(&a, b"x", &closed);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut buf = [0u8; 4];
    assert_eq!(
        a.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty()),
        Err(WsaError::WSAECONNRESET),
        "recv"
    );
}

#[test]
fn icmp_port_unreachable_is_not_reported_on_an_unconnected_socket() {
    let a = bound_v4();
    let closed = bound_v4().local_addr().unwrap();
    send(&a, b"x", &closed);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Linux reports ICMP errors only to connected UDP sockets: the receive
    // waits for a real datagram instead of failing.
    let mut ov = Overlapped::default();
    assert_eq!(
        a.recv_from(&mut ov, BufList::zeroed(4), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    send(&bound_v4(), b"real", &a.local_addr().unwrap());
    assert_eq!(get_overlapped_result(&a, &ov, true).unwrap().0, 4);
}

#[test]
fn shut_down_datagram_socket_refuses_new_operations() {
    for mode in MODES {
        let (a, b) = (bound_v4(), bound_v4());
        let to = b.local_addr().unwrap();
        a.connect(&to).unwrap();
        a.shutdown(std::net::Shutdown::Both).unwrap();
        // Fact 69: UDP accepts shutdown, then sendto/recvfrom fail with WSAESHUTDOWN.
        assert_eq!(
            send_mode(mode, &a, vec![b"x".to_vec()], Some(&to), None),
            Err(WsaError::WSAESHUTDOWN),
            "{mode:?}"
        );
        assert_eq!(
            recv(mode, &a, vec![vec![0; 4]], None).call,
            Err(WsaError::WSAESHUTDOWN)
        );
    }
}

#[test]
fn several_posted_receives_take_datagrams_in_issue_order() {
    let (a, b) = (bound_v4(), bound_v4());
    let events: Vec<Event> = (0..3).map(|_| Event::new()).collect();
    let mut ovs: Vec<Overlapped> = events.iter().map(Overlapped::new).collect();
    for ov in &mut ovs {
        let r = b.recv_from(ov, BufList::zeroed(8), MsgFlags::empty());
        assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    }
    for d in [b"one".as_slice(), b"two", b"three"] {
        send(&a, d, &b.local_addr().unwrap());
    }
    // Facts 13/35: filled in the order the receives were issued.
    for (ov, want) in ovs.iter_mut().zip([b"one".as_slice(), b"two", b"three"]) {
        let (n, _) = get_overlapped_result(&b, ov, true).unwrap();
        assert_eq!(ov.take_buffers().unwrap().gather(n as usize), want);
        assert_eq!(ov.source_addr(), Some(a.local_addr().unwrap()));
    }
}

#[test]
fn dropping_a_pending_receive_consumes_no_datagram() {
    let (a, b) = (bound_v4(), bound_v4());
    let mut ov = Overlapped::default();
    assert_eq!(
        b.recv_from(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Err(WsaError::WSA_IO_PENDING)
    );
    drop(ov); // cancels; the buffer stays with the driver until the kernel lets go
    sleep_ex(Some(std::time::Duration::from_millis(20)), false).unwrap();
    send(&a, b"kept", &b.local_addr().unwrap());
    let got = recv(Mode::Event, &b, vec![vec![0; 8]], None);
    assert_eq!(got.data(), b"kept");
}

#[test]
fn plain_recv_on_an_unbound_udp_socket_is_einval_in_every_mode() {
    // Fact 75, for WSARecv as well as WSARecvFrom.
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        s.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        s.recv_with(BufList::zeroed(8), MsgFlags::empty(), |_| {}),
        Err(WsaError::WSAEINVAL)
    );
    let mut b = [0u8; 8];
    assert_eq!(
        s.recv_sync(&mut [std::io::IoSliceMut::new(&mut b)], MsgFlags::empty()),
        Err(WsaError::WSAEINVAL)
    );
    assert!(!event.is_set());
}
