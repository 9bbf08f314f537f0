//! The connection calls through a completion port: AcceptEx completes to
//! the listener's key (facts 90, 93, 136, 144), ConnectEx and DisconnectEx
//! queue their packets (facts 103, 108), an unsupported WSAIoctl's packet
//! carries ERROR_NOT_SUPPORTED (fact 115).

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use common::{LONG, SHORT};
use overlapped::{
    get_overlapped_result, BufList, CompletionPort, Event, Ioctl, NotificationModes, Overlapped,
    Socket, TransmitFlags, WsaError, ACCEPT_EX_ADDRESS_LEN as N,
};

fn no_packet(port: &CompletionPort) {
    assert_eq!(
        port.get_queued_completion_status(SHORT).unwrap_err(),
        WsaError::WAIT_TIMEOUT
    );
}

fn listener() -> (Socket, SocketAddr) {
    let l = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

#[test]
fn accept_ex_completes_to_the_listeners_key_with_its_record() {
    // Facts 90 and 144: listener key 125, accept socket key 236.
    let (l, addr) = listener();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&l, 125).unwrap();
    let acc = Socket::tcp_for(&addr).unwrap();
    port.associate(&acc, 236).unwrap();
    let mut ov = Overlapped::without_event();
    let out = vec![0u8; 16 + 2 * N as usize];
    assert_eq!(
        l.accept_ex(&acc, &mut ov, out, 16, N, N),
        Err(WsaError::WSA_IO_PENDING)
    );
    no_packet(&port);
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"first").unwrap();
    let mut e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes, e.error), (125, 5, WsaError::NO_ERROR));
    let record = e.overlapped.as_mut().unwrap();
    assert!(record.same(&ov));
    assert_eq!(&record.take_buffers().unwrap().first()[..5], b"first");
    no_packet(&port);
    // The accepted socket's own operations carry its own key.
    acc.update_accept_context(&l).unwrap();
    let mut rx = Overlapped::without_event();
    let r = acc.recv(&mut rx, BufList::zeroed(8), Default::default());
    assert!(matches!(r, Ok(_) | Err(WsaError::WSA_IO_PENDING)));
    client.write_all(b"next").unwrap();
    let e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes), (236, 4));
}

#[test]
fn a_cancelled_accept_ex_reports_aborted_through_the_port_even_if_associated_late() {
    // Facts 93 and 136: closing the accept socket cancels the listener's
    // operation; the packet comes with the listener's key, 0 bytes, also
    // when the listener was associated after the AcceptEx was issued.
    for late in [false, true] {
        let (l, addr) = listener();
        let port = CompletionPort::new(1).unwrap();
        if !late {
            port.associate(&l, 125).unwrap();
        }
        let acc = Socket::tcp_for(&addr).unwrap();
        let mut ov = Overlapped::without_event();
        let out = vec![0u8; 2 * N as usize];
        assert_eq!(
            l.accept_ex(&acc, &mut ov, out, 0, N, N),
            Err(WsaError::WSA_IO_PENDING)
        );
        if late {
            port.associate(&l, 125).unwrap();
        }
        drop(acc);
        let e = port.get_queued_completion_status(LONG).unwrap();
        assert_eq!(
            (e.key, e.bytes, e.error),
            (125, 0, WsaError::WSA_OPERATION_ABORTED),
            "late association: {late}"
        );
        assert_eq!(e.win32_error().code(), 995);
        assert!(e.overlapped.unwrap().same(&ov));
        no_packet(&port);
    }
}

#[test]
fn connect_ex_queues_one_packet_with_the_sockets_key() {
    // Fact 103: key of the socket, bytes = the send data, olp = &ov; with
    // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS a pending ConnectEx still queues.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = server.local_addr().unwrap();
    let port = CompletionPort::new(1).unwrap();
    for (key, skip) in [(0usize, false), (7, true)] {
        let s = Socket::tcp_for(&to).unwrap();
        s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
        port.associate(&s, key).unwrap();
        if skip {
            s.set_file_completion_notification_modes(
                NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS,
            )
            .unwrap();
        }
        let mut ov = Overlapped::without_event();
        let r = s.connect_ex(&to, &mut ov, BufList::from(b"abc".to_vec()));
        match r {
            Err(WsaError::WSA_IO_PENDING) => {
                let e = port.get_queued_completion_status(LONG).unwrap();
                assert_eq!((e.key, e.bytes, e.error), (key, 3, WsaError::NO_ERROR));
                assert!(e.overlapped.unwrap().same(&ov));
            }
            // Completed during the call: a packet unless skipped.
            Ok(3) if skip => no_packet(&port),
            Ok(3) => {
                let e = port.get_queued_completion_status(LONG).unwrap();
                assert_eq!((e.key, e.bytes), (key, 3));
            }
            other => panic!("{other:?}"),
        }
        no_packet(&port);
        let _ = server.accept().unwrap();
    }
}

#[test]
fn a_refused_connect_ex_is_a_failed_packet() {
    // Facts 100 and 138: FALSE with the record, ERROR_CONNECTION_REFUSED.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = closed.local_addr().unwrap();
    drop(closed);
    let port = CompletionPort::new(1).unwrap();
    let s = Socket::tcp_for(&to).unwrap();
    s.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    port.associate(&s, 5).unwrap();
    let mut ov = Overlapped::without_event();
    let r = s.connect_ex(&to, &mut ov, BufList::new());
    assert!(
        matches!(
            r,
            Err(WsaError::WSA_IO_PENDING) | Err(WsaError::WSAECONNREFUSED)
        ),
        "{r:?}"
    );
    if r == Err(WsaError::WSA_IO_PENDING) {
        let e = port.get_queued_completion_status(LONG).unwrap();
        assert_eq!((e.key, e.error), (5, WsaError::WSAECONNREFUSED));
        assert_eq!(e.win32_error(), WsaError::ERROR_CONNECTION_REFUSED);
        assert!(e.overlapped.unwrap().same(&ov));
    }
    no_packet(&port);
}

#[test]
fn a_pending_disconnect_ex_queues_a_packet_even_when_skipping_successes() {
    // Fact 108: key, 0 bytes, even with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS;
    // the low-bit hEvent signals the event and queues nothing.
    overlapped::set_batching(true).unwrap(); // every call returns WSA_IO_PENDING
    let (l, addr) = listener();
    let port = CompletionPort::new(1).unwrap();
    for low_bit in [false, true] {
        let c = Socket::connect_tcp(&addr).unwrap();
        let _peer = l.accept().unwrap();
        port.associate(&c, 108).unwrap();
        c.set_file_completion_notification_modes(
            NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS,
        )
        .unwrap();
        let event = Event::new();
        let mut ov = if low_bit {
            Overlapped::new_event_only(&event)
        } else {
            Overlapped::new(&event)
        };
        assert_eq!(
            c.disconnect_ex(&mut ov, TransmitFlags::empty()),
            Err(WsaError::WSA_IO_PENDING)
        );
        if low_bit {
            assert_eq!(
                get_overlapped_result(&c, &ov, true),
                Ok((0, Default::default()))
            );
            assert!(event.is_set());
        } else {
            let e = port.get_queued_completion_status(LONG).unwrap();
            assert_eq!((e.key, e.bytes, e.error), (108, 0, WsaError::NO_ERROR));
            assert!(e.overlapped.unwrap().same(&ov));
        }
        no_packet(&port);
    }
    overlapped::set_batching(false).unwrap();
}

#[test]
fn an_unsupported_ioctl_packet_carries_error_not_supported() {
    // Fact 115: overlapped → WSA_IO_PENDING, then GQCS FALSE /
    // ERROR_NOT_SUPPORTED (50) with key and record, 0 bytes.
    let s = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&s, 115).unwrap();
    let mut ov = Overlapped::without_event();
    let mut n = 0xdead;
    let r = s.ioctl(&mut ov, &Ioctl::Unsupported(0xdeadbeef), 0, &mut n);
    assert_eq!(r.unwrap_err(), WsaError::WSA_IO_PENDING);
    let e = port
        .get_queued_completion_status(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!((e.key, e.bytes, e.error), (115, 0, WsaError::WSAEOPNOTSUPP));
    assert_eq!(e.win32_error(), WsaError::ERROR_NOT_SUPPORTED);
    assert!(e.overlapped.unwrap().same(&ov));
    no_packet(&port);
}
