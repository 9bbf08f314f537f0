//! WSARecvMsg / WSASendMsg with control data on real loopback sockets, in the
//! three modes (facts 73, 79-83).

mod udp_common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use overlapped::*;
use udp_common::*;

fn wildcard(addr: &str) -> Socket {
    let a: SocketAddr = addr.parse().unwrap();
    let s = Socket::udp_for(&a).unwrap();
    if a.is_ipv6() {
        s.as_socket2().set_only_v6(true).unwrap();
    }
    s.bind(&a).unwrap();
    s
}

fn at(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

const SPACE: usize = 256;

#[test]
fn pktinfo_reports_the_real_destination_on_a_wildcard_socket() {
    for mode in MODES {
        let rx = wildcard("0.0.0.0:0");
        rx.set_receive_control(ReceiveControl::PktInfo, true)
            .unwrap();
        let port = rx.local_addr().unwrap().port();
        let tx = bound_v4();
        // All of 127.0.0.0/8 is local: each datagram says where it was sent.
        for dst in ["127.0.0.1", "127.0.0.2"] {
            send(&tx, b"where", &at(dst, port));
            let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(SPACE)));
            assert_eq!(got.result, Ok(5), "{mode:?}");
            let msgs: Vec<_> = got.control.iter().collect();
            assert_eq!(msgs.len(), 1, "{msgs:?}");
            let ControlMessage::PktInfoV4 { addr, ifindex } = msgs[0] else {
                panic!("{msgs:?}")
            };
            assert_eq!(addr, dst.parse::<Ipv4Addr>().unwrap(), "{mode:?}: fact 80");
            assert!(ifindex > 0);
            assert_eq!(got.control.len(), Control::space(12), "used length");
            assert_eq!(got.from, Some(tx.local_addr().unwrap()));
        }
    }
}

#[test]
fn ipv6_pktinfo_reports_the_real_destination_on_a_wildcard_socket() {
    for mode in MODES {
        let rx = wildcard("[::]:0");
        rx.set_receive_control(ReceiveControl::PktInfo, true)
            .unwrap();
        let port = rx.local_addr().unwrap().port();
        let tx = bound_v6();
        send(&tx, b"six", &at("::1", port));
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(SPACE)));
        assert_eq!(got.result, Ok(3), "{mode:?}");
        let msgs: Vec<_> = got.control.iter().collect();
        assert!(
            matches!(msgs[..], [ControlMessage::PktInfoV6 { addr, ifindex }] if addr == Ipv6Addr::LOCALHOST && ifindex > 0),
            "{mode:?}: {msgs:?}"
        );
    }
}

#[test]
fn dual_stack_pktinfo_for_an_ipv4_sender_is_v4_mapped() {
    let rx = Socket::new(Domain::IPV6, Type::DGRAM, None).unwrap();
    rx.as_socket2().set_only_v6(false).unwrap();
    rx.bind(&"[::]:0".parse().unwrap()).unwrap();
    rx.set_receive_control(ReceiveControl::PktInfo, true)
        .unwrap();
    let port = rx.local_addr().unwrap().port();
    for mode in MODES {
        send(&bound_v4(), b"4", &at("127.0.0.2", port));
        let got = recv(mode, &rx, vec![vec![0; 4]], Some(MsgSpace::control(SPACE)));
        let msgs: Vec<_> = got.control.iter().collect();
        let want: Ipv6Addr = "::ffff:127.0.0.2".parse().unwrap();
        assert!(
            matches!(msgs[..], [ControlMessage::PktInfoV6 { addr, .. }] if addr == want),
            "{mode:?}: {msgs:?}"
        );
    }
}

#[test]
fn ttl_and_tos_where_asked_for() {
    for mode in MODES {
        let rx = bound_v4();
        rx.set_receive_control(ReceiveControl::TtlOrHopLimit, true)
            .unwrap();
        rx.set_receive_control(ReceiveControl::TosOrTrafficClass, true)
            .unwrap();
        let tx = bound_v4();
        tx.as_socket2().set_ttl_v4(33).unwrap();
        tx.as_socket2().set_tos_v4(0x20).unwrap();
        send(&tx, b"t", &rx.local_addr().unwrap());
        let got = recv(mode, &rx, vec![vec![0; 4]], Some(MsgSpace::control(SPACE)));
        let msgs: Vec<_> = got.control.iter().collect();
        assert!(
            msgs.contains(&ControlMessage::Ttl(33)),
            "{mode:?}: {msgs:?}"
        );
        assert!(
            msgs.contains(&ControlMessage::Tos(0x20)),
            "{mode:?}: {msgs:?}"
        );
        assert_eq!(msgs.len(), 2);
    }
}

#[test]
fn hop_limit_and_traffic_class_where_asked_for() {
    for mode in MODES {
        let rx = bound_v6();
        rx.set_receive_control(ReceiveControl::TtlOrHopLimit, true)
            .unwrap();
        rx.set_receive_control(ReceiveControl::TosOrTrafficClass, true)
            .unwrap();
        let tx = bound_v6();
        tx.as_socket2().set_unicast_hops_v6(7).unwrap();
        tx.as_socket2().set_tclass_v6(0x28).unwrap();
        send(&tx, b"h", &rx.local_addr().unwrap());
        let got = recv(mode, &rx, vec![vec![0; 4]], Some(MsgSpace::control(SPACE)));
        let msgs: Vec<_> = got.control.iter().collect();
        assert!(
            msgs.contains(&ControlMessage::HopLimit(7)),
            "{mode:?}: {msgs:?}"
        );
        assert!(
            msgs.contains(&ControlMessage::TrafficClass(0x28)),
            "{mode:?}: {msgs:?}"
        );
    }
}

#[test]
fn control_buffer_too_small_is_ctrunc_with_the_data_delivered() {
    for mode in MODES {
        let rx = bound_v4();
        rx.set_receive_control(ReceiveControl::PktInfo, true)
            .unwrap();
        let tx = bound_v4();
        send(&tx, b"pktinf", &rx.local_addr().unwrap());
        // Fact 81: WSAEMSGSIZE, MSG_CTRUNC, and the 6 data bytes counted.
        let got = recv(mode, &rx, vec![vec![0; 16]], Some(MsgSpace::control(1)));
        assert_eq!(got.result, Err(WsaError::WSAEMSGSIZE), "{mode:?}");
        assert_eq!(got.bytes, 6, "{mode:?}");
        assert_eq!(got.data(), b"pktinf");
        assert!(
            got.flags.contains(MsgFlags::CTRUNC),
            "{mode:?}: {:?}",
            got.flags
        );
        assert!(!got.flags.contains(MsgFlags::TRUNC));
        if mode != Mode::Sync {
            assert_eq!(got.call, Err(WsaError::WSA_IO_PENDING), "{mode:?}: fact 81");
        }
        assert_eq!(got.control.iter().count(), 0);
    }
}

#[test]
fn short_address_buffer_is_wsaefault_and_consumes_nothing() {
    for mode in MODES {
        let (tx, rx) = (bound_v4(), bound_v4());
        send(&tx, b"kept", &rx.local_addr().unwrap());
        let short = MsgSpace {
            name_len: 1,
            control_len: 0,
        };
        // Fact 73.
        let got = recv(mode, &rx, vec![vec![0; 8]], Some(short));
        assert_eq!(got.call, Err(WsaError::WSAEFAULT), "{mode:?}");
        // No name at all is fine.
        let none = MsgSpace {
            name_len: 0,
            control_len: 0,
        };
        let got = recv(mode, &rx, vec![vec![0; 8]], Some(none));
        assert_eq!(
            got.data(),
            b"kept",
            "{mode:?}: the datagram was still there"
        );
        assert_eq!(got.from, None);
    }
    let v6 = bound_v6();
    let sixteen = MsgSpace {
        name_len: 16,
        control_len: 0,
    };
    let mut ov = Overlapped::default();
    assert_eq!(
        v6.recv_msg(&mut ov, BufList::zeroed(4), sixteen, MsgFlags::empty()),
        Err(WsaError::WSAEFAULT),
        "16 bytes hold no sockaddr_in6"
    );
}

#[test]
fn send_msg_control_sets_ttl_and_source_address() {
    for mode in MODES {
        let rx = bound_v4();
        rx.set_receive_control(ReceiveControl::TtlOrHopLimit, true)
            .unwrap();
        rx.set_receive_control(ReceiveControl::PktInfo, true)
            .unwrap();
        let to = rx.local_addr().unwrap();
        // Fact 83: an unbound socket is bound by the send; the packet-info
        // message picks the source address.
        let tx = Socket::udp_for(&to).unwrap();
        let control = Control::builder()
            .push(ControlMessage::PktInfoV4 {
                addr: "127.0.0.3".parse().unwrap(),
                ifindex: 0,
            })
            .push(ControlMessage::Ttl(5))
            .build();
        let sent = send_mode(
            mode,
            &tx,
            vec![b"ab".to_vec(), b"c".to_vec()],
            Some(&to),
            Some(control),
        );
        assert_eq!(sent, Ok(3), "{mode:?}");
        assert_ne!(
            tx.local_addr().unwrap().port(),
            0,
            "fact 83: bound by the send"
        );
        let got = recv(mode, &rx, vec![vec![0; 8]], Some(MsgSpace::control(SPACE)));
        assert_eq!(got.data(), b"abc");
        assert_eq!(
            got.from.unwrap().ip(),
            IpAddr::from([127, 0, 0, 3]),
            "{mode:?}"
        );
        assert!(
            got.control.iter().any(|m| m == ControlMessage::Ttl(5)),
            "{mode:?}"
        );
    }
}

#[test]
fn send_msg_ipv6_hop_limit_and_source() {
    for mode in MODES {
        let rx = bound_v6();
        rx.set_receive_control(ReceiveControl::TtlOrHopLimit, true)
            .unwrap();
        let to = rx.local_addr().unwrap();
        let tx = wildcard("[::]:0");
        let control = Control::builder()
            .push(ControlMessage::PktInfoV6 {
                addr: Ipv6Addr::LOCALHOST,
                ifindex: 0,
            })
            .push(ControlMessage::HopLimit(9))
            .build();
        assert_eq!(
            send_mode(mode, &tx, vec![b"v6".to_vec()], Some(&to), Some(control)),
            Ok(2)
        );
        let got = recv(mode, &rx, vec![vec![0; 8]], Some(MsgSpace::control(SPACE)));
        assert_eq!(got.from.unwrap().ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(
            got.control.iter().collect::<Vec<_>>(),
            [ControlMessage::HopLimit(9)]
        );
    }
}

#[test]
fn message_calls_need_a_datagram_socket_and_their_own_flags() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_addr().unwrap();
    let tcp = Socket::tcp_for(&addr).unwrap();
    tcp.connect(&addr).unwrap();
    for mode in MODES {
        // Facts 79, 83: datagram (or raw) sockets only.
        let got = recv(mode, &tcp, vec![vec![0; 4]], Some(MsgSpace::default()));
        assert_eq!(got.call, Err(WsaError::WSAEINVAL), "{mode:?}");
        assert_eq!(
            send_mode(mode, &tcp, vec![b"x".to_vec()], None, Some(Control::new())),
            Err(WsaError::WSAEINVAL)
        );
    }
    let rx = bound_v4();
    let mut ov = Overlapped::default();
    // Fact 79: input flags may only hold MSG_PEEK.
    assert_eq!(
        rx.recv_msg(
            &mut ov,
            BufList::zeroed(4),
            MsgSpace::default(),
            MsgFlags::DONTROUTE
        ),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    // Fact 58: a peek leaves the datagram in place.
    send(&bound_v4(), b"peek", &rx.local_addr().unwrap());
    for _ in 0..2 {
        let mut buf = [0u8; 8];
        let mut info = MsgInfo::default();
        let n = rx
            .recv_msg_sync(
                &mut [std::io::IoSliceMut::new(&mut buf)],
                MsgSpace::default(),
                MsgFlags::PEEK,
                &mut info,
            )
            .unwrap();
        assert_eq!(&buf[..n], b"peek");
    }
}

#[test]
fn unknown_control_messages_read_as_other() {
    let c = Control::builder()
        .push(ControlMessage::Other {
            level: 1234,
            kind: 5,
            data: vec![1, 2, 3],
        })
        .push(ControlMessage::Tos(4))
        .build();
    let msgs: Vec<_> = c.iter().collect();
    assert_eq!(
        msgs,
        [
            ControlMessage::Other {
                level: 1234,
                kind: 5,
                data: vec![1, 2, 3]
            },
            ControlMessage::Tos(4)
        ]
    );
    assert_eq!(c.len(), Control::space(3) + Control::space(4));
}

#[test]
fn pending_recv_msg_fills_address_and_control_when_the_datagram_arrives() {
    let rx = wildcard("0.0.0.0:0");
    rx.set_receive_control(ReceiveControl::PktInfo, true)
        .unwrap();
    let port = rx.local_addr().unwrap().port();
    let tx = bound_v4();
    // Event record.
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = rx.recv_msg(
        &mut ov,
        BufList::zeroed(8),
        MsgSpace::control(SPACE),
        MsgFlags::empty(),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    assert!(ov.control().is_empty() && ov.source_addr().is_none());
    send(&tx, b"late", &at("127.0.0.4", port));
    assert_eq!(get_overlapped_result(&rx, &ov, true).unwrap().0, 4);
    assert_eq!(ov.source_addr(), Some(tx.local_addr().unwrap()));
    assert!(matches!(
        ov.control().iter().next(),
        Some(ControlMessage::PktInfoV4 { addr, .. }) if addr == Ipv4Addr::new(127, 0, 0, 4)
    ));
    // Completion routine.
    let got = std::rc::Rc::new(std::cell::RefCell::new(None));
    let put = got.clone();
    let r = rx.recv_msg_with(
        BufList::zeroed(8),
        MsgSpace::control(SPACE),
        MsgFlags::empty(),
        move |c| *put.borrow_mut() = Some(c),
    );
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    send(&tx, b"later", &at("127.0.0.5", port));
    while got.borrow().is_none() {
        sleep_ex(LONG, true).unwrap();
    }
    let c: Completion = got.borrow_mut().take().unwrap();
    assert_eq!((c.error, c.bytes), (WsaError::NO_ERROR, 5));
    assert_eq!(c.from, Some(tx.local_addr().unwrap()));
    assert!(matches!(
        c.control.iter().next(),
        Some(ControlMessage::PktInfoV4 { addr, .. }) if addr == Ipv4Addr::new(127, 0, 0, 5)
    ));
}
