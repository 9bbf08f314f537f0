//! I/O completion ports: association, packets, result encoding, notification
//! modes (semantics facts 19, 22, 39, 41, 70, 129, 135–138, 140–144).
//! The thread rules (fact 139) are in `port_threads.rs`.

mod common;

use std::time::Duration;

use common::{pending, send_all, tcp_pair, LONG, SHORT};
use overlapped::{
    get_overlapped_result, queue_user_apc, BufList, CompletionPort, Event, MsgFlags,
    NotificationModes, Overlapped, Socket, ThreadHandle, WsaError,
};

const ZERO: Option<Duration> = Some(Duration::ZERO);

fn no_packet(port: &CompletionPort) {
    assert_eq!(
        port.get_queued_completion_status(SHORT).unwrap_err(),
        WsaError::WAIT_TIMEOUT
    );
}

#[test]
fn concurrency_zero_means_the_number_of_cpus_and_association_is_once() {
    // Fact 135.
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(CompletionPort::new(0).unwrap().concurrency(), cpus);
    assert_eq!(CompletionPort::new(3).unwrap().concurrency(), 3);
    let (a, _b) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    let other = CompletionPort::new(1).unwrap();
    port.associate(&a, 1).unwrap();
    assert_eq!(port.associate(&a, 2), Err(WsaError::WSA_INVALID_PARAMETER));
    assert_eq!(other.associate(&a, 2), Err(WsaError::WSA_INVALID_PARAMETER));
}

#[test]
fn immediate_success_pending_and_failed_to_start_each_as_windows_says() {
    // Facts 19 and 137: one packet per operation that returned success or
    // pending, none for one that failed to start; then the port is empty.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 125).unwrap();
    send_all(&client, b"ready");
    std::thread::sleep(Duration::from_millis(20));
    let mut now = Overlapped::without_event();
    assert_eq!(
        server.recv(&mut now, BufList::zeroed(16), MsgFlags::empty()),
        Ok(5)
    );
    let entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!(
        (entry.key, entry.bytes, entry.error),
        (125, 5, WsaError::NO_ERROR)
    );
    assert!(entry.overlapped.as_ref().unwrap().same(&now));
    no_packet(&port);

    let mut later = Overlapped::without_event();
    pending(server.recv(&mut later, BufList::zeroed(16), MsgFlags::empty()));
    no_packet(&port);
    send_all(&client, b"later!");
    let mut entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((entry.key, entry.bytes), (125, 6));
    let record = entry.overlapped.as_mut().unwrap();
    assert!(record.same(&later) && !record.same(&now));
    assert_eq!(record.take_buffers().unwrap().gather(6), b"later!");

    // Failed to start: zero buffers, and a flag TCP cannot honour.
    let mut bad = Overlapped::without_event();
    assert_eq!(
        server.recv(&mut bad, BufList::new(), MsgFlags::empty()),
        Err(WsaError::WSAEINVAL)
    );
    assert_eq!(
        server.send(&mut bad, b"x".to_vec(), MsgFlags::PARTIAL),
        Err(WsaError::WSAEOPNOTSUPP)
    );
    no_packet(&port);
}

#[test]
fn a_failed_operation_packet_carries_its_error_and_record() {
    // Fact 138: FALSE with lpOverlapped set, GetLastError() the Win32 error.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 9).unwrap();
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    client
        .as_socket2()
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client); // abortive close: the peer resets
    let entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!(entry.error, WsaError::WSAECONNRESET);
    assert_eq!(entry.win32_error(), WsaError::ERROR_NETNAME_DELETED);
    assert_eq!((entry.key, entry.bytes), (9, 0));
    assert!(entry.overlapped.unwrap().same(&ov));
    // The record tells the same through WSAGetOverlappedResult.
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Err(WsaError::WSAECONNRESET)
    );
}

#[test]
fn closing_a_socket_with_a_receive_pending_queues_an_aborted_packet() {
    // Facts 127/133 through the port; fact 129: closing with nothing pending queues nothing.
    let (_client, server) = tcp_pair();
    let (_c2, idle) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 3).unwrap();
    port.associate(&idle, 4).unwrap();
    drop(idle);
    no_packet(&port);
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    drop(server);
    let entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!(entry.key, 3);
    assert_eq!(entry.error, WsaError::WSAECONNABORTED);
    assert_eq!(entry.win32_error(), WsaError::ERROR_CONNECTION_ABORTED);
    no_packet(&port);
}

#[test]
fn timeout_and_closed_port_results() {
    // Fact 138: timeout → WAIT_TIMEOUT, no packet; closed under a waiter →
    // ERROR_ABANDONED_WAIT_0; after the close → invalid handle.
    let port = CompletionPort::new(1).unwrap();
    assert_eq!(
        port.get_queued_completion_status(ZERO).unwrap_err(),
        WsaError::WAIT_TIMEOUT
    );
    let waiter = port.clone();
    let t = std::thread::spawn(move || waiter.get_queued_completion_status(LONG));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while port.stats().waiting == 0 {
        assert!(std::time::Instant::now() < deadline, "waiter never arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
    port.close();
    assert_eq!(
        t.join().unwrap().unwrap_err(),
        WsaError::ERROR_ABANDONED_WAIT_0
    );
    assert_eq!(
        port.get_queued_completion_status(ZERO).unwrap_err(),
        WsaError::WSA_INVALID_HANDLE
    );
    assert_eq!(
        port.post_queued_completion_status(1, 1, None),
        Err(WsaError::WSA_INVALID_HANDLE)
    );
}

#[test]
fn an_operation_outliving_its_port_still_signals_its_event() {
    // The port is gone (last handle dropped): the packet is discarded, the
    // record and its event complete as usual.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 1).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    drop(port);
    send_all(&client, b"late");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 4);
    assert!(event.is_set());
}

#[test]
fn posted_packets_come_back_verbatim_in_fifo_order() {
    // Facts 139 (FIFO) and 141.
    let port = CompletionPort::new(1).unwrap();
    let records: Vec<Overlapped> = (0..3).map(|_| Overlapped::without_event()).collect();
    port.post_queued_completion_status(u32::MAX, usize::MAX, Some(&records[0]))
        .unwrap();
    port.post_queued_completion_status(0, 0, None).unwrap();
    port.post_queued_completion_status(7, 8, Some(&records[2]))
        .unwrap();
    let a = port.get_queued_completion_status(ZERO).unwrap();
    assert_eq!(
        (a.bytes, a.key, a.error),
        (u32::MAX, usize::MAX, WsaError::NO_ERROR)
    );
    assert!(a.overlapped.unwrap().same(&records[0]));
    let b = port.get_queued_completion_status(ZERO).unwrap();
    assert_eq!((b.bytes, b.key), (0, 0));
    assert!(b.overlapped.is_none());
    let c = port.get_queued_completion_status(ZERO).unwrap();
    assert_eq!((c.bytes, c.key), (7, 8));
    assert!(c.overlapped.unwrap().same(&records[2]));
    // The handle a packet carries never cancels: the owner's record is untouched.
    assert!(records[2].is_completed());
}

#[test]
fn the_batch_form_takes_up_to_max_and_reports_each_result() {
    // Fact 142.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 5).unwrap();
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    port.post_queued_completion_status(1, 1, None).unwrap();
    client
        .as_socket2()
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    // Wait until the reset's packet is there too.
    let mut entries = Vec::new();
    let mut got = Vec::new();
    while got.len() < 2 {
        let n = port
            .get_queued_completion_status_ex(&mut entries, 8, LONG, false)
            .unwrap();
        assert!(n >= 1);
        got.append(&mut entries);
    }
    assert_eq!(got[0].key, 1);
    assert_eq!(got[1].key, 5);
    assert_eq!(got[1].error, WsaError::WSAECONNRESET);
    assert_eq!(
        port.get_queued_completion_status_ex(&mut entries, 0, ZERO, false),
        Err(WsaError::WSA_INVALID_PARAMETER)
    );
    assert_eq!(
        port.get_queued_completion_status_ex(&mut entries, 4, SHORT, false),
        Err(WsaError::WAIT_TIMEOUT)
    );
    assert!(entries.is_empty());
}

#[test]
fn the_alertable_batch_wait_runs_apcs_and_the_plain_wait_does_not() {
    // Facts 41 and 142.
    let port = CompletionPort::new(1).unwrap();
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let me = ThreadHandle::current().unwrap();
    let r = ran.clone();
    assert!(queue_user_apc(&me, move || {
        r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    // GetQueuedCompletionStatus is not alertable: the APC stays queued.
    no_packet(&port);
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0);
    let mut entries = Vec::new();
    assert_eq!(
        port.get_queued_completion_status_ex(&mut entries, 4, LONG, true),
        Err(WsaError::WAIT_IO_COMPLETION)
    );
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Packets first: an alertable wait that finds one returns it.
    port.post_queued_completion_status(3, 3, None).unwrap();
    assert_eq!(
        port.get_queued_completion_status_ex(&mut entries, 4, LONG, true),
        Ok(1)
    );
}

#[test]
fn low_order_bit_event_signals_and_queues_no_packet() {
    // Fact 22.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 1).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new_event_only(&event);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"abc");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 3);
    assert!(event.is_set());
    no_packet(&port);
    // A synchronous call on an associated socket queues nothing either.
    send_all(&client, b"def");
    assert_eq!(common::recv_exact(&server, 3), b"def");
    no_packet(&port);
}

#[test]
fn skip_completion_port_on_success_skips_only_immediate_successes() {
    // Facts 140 and 103 (the pending half).
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 1).unwrap();
    server
        .set_file_completion_notification_modes(NotificationModes::SKIP_COMPLETION_PORT_ON_SUCCESS)
        .unwrap();
    send_all(&client, b"now");
    std::thread::sleep(Duration::from_millis(20));
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(3)
    );
    assert!(event.is_set(), "the event is still set");
    no_packet(&port);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"later");
    let entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!(entry.bytes, 5);
    // Modes are one-way: setting none removes nothing.
    server
        .set_file_completion_notification_modes(NotificationModes::empty())
        .unwrap();
    send_all(&client, b"again");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()),
        Ok(5)
    );
    no_packet(&port);
}

#[test]
fn skip_set_event_on_handle_leaves_the_socket_event_alone() {
    // Fact 140.
    let (client, server) = tcp_pair();
    server
        .set_file_completion_notification_modes(NotificationModes::SKIP_SET_EVENT_ON_HANDLE)
        .unwrap();
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"abcd");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 4);
    assert!(!server.event().is_set());
    // An explicit event still is signalled.
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"ef");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 2);
    assert!(event.is_set());
}

#[test]
fn late_association_still_delivers_the_pending_operation() {
    // Fact 136.
    let (client, server) = tcp_pair();
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 77).unwrap();
    send_all(&client, b"hi");
    let entry = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((entry.key, entry.bytes), (77, 2));
}

#[test]
fn each_socket_completes_with_its_own_key() {
    // Fact 144 (for the record identity, see above).
    let (c1, s1) = tcp_pair();
    let (c2, s2) = tcp_pair();
    let port = CompletionPort::new(2).unwrap();
    port.associate(&s1, 125).unwrap();
    port.associate(&s2, 236).unwrap();
    let mut o1 = Overlapped::without_event();
    let mut o2 = Overlapped::without_event();
    pending(s1.recv(&mut o1, BufList::zeroed(8), MsgFlags::empty()));
    pending(s2.recv(&mut o2, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&c2, b"two");
    let e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes), (236, 3));
    assert!(e.overlapped.unwrap().same(&o2));
    send_all(&c1, b"one!");
    let e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes), (125, 4));
    assert!(e.overlapped.unwrap().same(&o1));
}

#[test]
fn routines_are_refused_on_an_associated_socket() {
    // Fact 39.
    let (_client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 1).unwrap();
    assert_eq!(
        server.recv_with(BufList::zeroed(8), MsgFlags::empty(), |_| {}),
        Err(WsaError::WSAEINVAL)
    );
    no_packet(&port);
}

#[test]
fn non_overlapped_state_changes_queue_nothing() {
    // Fact 70: shutdown and connect queue no packet.
    let port = CompletionPort::new(1).unwrap();
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 4).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Socket::tcp_for(&addr).unwrap();
    port.associate(&client, 1).unwrap();
    client.connect(&addr).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    no_packet(&port);
}

#[test]
fn a_datagram_send_completes_to_the_port() {
    // Fact 137 for WSASendTo / WSARecvFrom.
    let any = "127.0.0.1:0".parse().unwrap();
    let (a, b) = (
        Socket::udp_for(&any).unwrap(),
        Socket::udp_for(&any).unwrap(),
    );
    a.bind(&any).unwrap();
    b.bind(&any).unwrap();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&a, 10).unwrap();
    port.associate(&b, 20).unwrap();
    let mut rx = Overlapped::without_event();
    pending(a.recv_from(&mut rx, BufList::zeroed(64), MsgFlags::empty()));
    let mut tx = Overlapped::without_event();
    let sent = b.send_to(
        &mut tx,
        b"dgram".to_vec(),
        &a.local_addr().unwrap(),
        MsgFlags::empty(),
    );
    assert!(matches!(sent, Ok(5) | Err(WsaError::WSA_IO_PENDING)));
    let mut keys = Vec::new();
    for _ in 0..2 {
        let e = port.get_queued_completion_status(LONG).unwrap();
        assert_eq!(e.bytes, 5);
        if e.key == 10 {
            assert_eq!(
                e.overlapped.unwrap().source_addr(),
                Some(b.local_addr().unwrap())
            );
        }
        keys.push(e.key);
    }
    keys.sort();
    assert_eq!(keys, [10, 20]);
    no_packet(&port);
}

#[test]
fn every_handle_of_a_socket_shares_its_association() {
    // Fact 143: a duplicated socket completes to the same port and key.
    let (client, server) = tcp_pair();
    let port = CompletionPort::new(1).unwrap();
    port.associate(&server, 143).unwrap();
    let copy = server.clone();
    assert_eq!(
        port.associate(&copy, 1),
        Err(WsaError::WSA_INVALID_PARAMETER)
    );
    let mut ov = Overlapped::without_event();
    pending(copy.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"dup");
    let e = port.get_queued_completion_status(LONG).unwrap();
    assert_eq!((e.key, e.bytes), (143, 3));
}
