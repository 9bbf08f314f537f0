//! Overlapped (1): event-notified WSARecv/WSASend, WSAGetOverlappedResult.

mod common;

use common::*;
use overlapped::*;
use std::time::Duration;

#[test]
fn pending_recv_completes_and_signals_event() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    // Fact 2/43: pending, and WSAGetOverlappedResult without wait says incomplete.
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Err(WsaError::WSA_IO_INCOMPLETE)
    );
    assert!(!event.is_set());
    send_all(&client, b"hello");
    let r = wait_for_multiple_events(std::slice::from_ref(&event), false, LONG, false).unwrap();
    assert_eq!(r, WaitResult::Signaled(0));
    assert_eq!(get_overlapped_result(&server, &ov, false).unwrap().0, 5);
    let bufs = ov.take_buffers().unwrap();
    assert_eq!(bufs.gather(5), b"hello");
}

#[test]
fn immediate_completion_returns_bytes_and_still_signals() {
    let (client, server) = tcp_pair();
    send_all(&client, b"ready");
    std::thread::sleep(Duration::from_millis(20));
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    // Fact 19: completed at once, and the event is set all the same.
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()),
        Ok(5)
    );
    assert!(event.is_set());
    assert_eq!(get_overlapped_result(&server, &ov, false).unwrap().0, 5);
}

#[test]
fn starting_an_operation_resets_the_event() {
    let (_client, server) = tcp_pair();
    let event = Event::new();
    event.set();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()));
    assert!(
        !event.is_set(),
        "fact 18: a started operation resets its event"
    );
}

#[test]
fn scatter_receive_fills_buffers_in_order() {
    let (client, server) = tcp_pair();
    send_all(&client, b"deadbeefs");
    std::thread::sleep(Duration::from_millis(20));
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let bufs = BufList::from(vec![vec![0u8; 4], vec![0u8; 5]]);
    let n = match server.recv(&mut ov, bufs, MsgFlags::empty()) {
        Ok(n) => n,
        Err(WsaError::WSA_IO_PENDING) => get_overlapped_result(&server, &ov, true).unwrap().0,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(n, 9);
    let bufs = ov.take_buffers().unwrap().into_inner();
    assert_eq!(bufs[0], b"dead");
    assert_eq!(bufs[1], b"beefs");
}

#[test]
fn gather_send_concatenates() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let bufs = BufList::from(vec![b"hello ".to_vec(), b"world".to_vec()]);
    match client.send(&mut ov, bufs, MsgFlags::empty()) {
        Ok(11) => {}
        Err(WsaError::WSA_IO_PENDING) => {
            assert_eq!(get_overlapped_result(&client, &ov, true).unwrap().0, 11)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(recv_exact(&server, 11), b"hello world");
}

#[test]
fn large_send_completes_only_when_every_byte_is_sent() {
    let (client, server) = tcp_pair();
    client.as_socket2().set_send_buffer_size(4096).unwrap();
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let r = client.send(&mut ov, data.clone(), MsgFlags::empty());
    assert_eq!(
        r,
        Err(WsaError::WSA_IO_PENDING),
        "1 MiB into a 4 KiB buffer must pend"
    );
    let reader = std::thread::spawn(move || recv_exact(&server, 1 << 20));
    assert_eq!(
        get_overlapped_result(&client, &ov, true).unwrap().0,
        1 << 20
    );
    assert_eq!(reader.join().unwrap(), data);
}

#[test]
fn pending_receives_are_satisfied_in_issue_order() {
    let (client, server) = tcp_pair();
    let e1 = Event::new();
    let e2 = Event::new();
    let mut ov1 = Overlapped::new(&e1);
    let mut ov2 = Overlapped::new(&e2);
    pending(server.recv(&mut ov1, BufList::zeroed(16), MsgFlags::empty()));
    pending(server.recv(&mut ov2, BufList::zeroed(16), MsgFlags::empty()));
    let data: Vec<u8> = (0..32).collect();
    send_all(&client, &data);
    let r = wait_for_multiple_events(&[e1.clone(), e2.clone()], true, LONG, false).unwrap();
    assert_eq!(r, WaitResult::Signaled(0));
    let mut got = Vec::new();
    for ov in [&mut ov1, &mut ov2] {
        let n = get_overlapped_result(&server, ov, false).unwrap().0 as usize;
        got.extend(ov.take_buffers().unwrap().gather(n));
    }
    assert_eq!(got, data);
}

#[test]
fn graceful_close_completes_receive_with_zero_bytes() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty()));
    drop(client);
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 0);
    assert!(event.is_set());
    // Fact 63: a new receive then completes at once with 0 bytes.
    let mut ov2 = Overlapped::new(&event);
    assert_eq!(
        server.recv(&mut ov2, BufList::zeroed(16), MsgFlags::empty()),
        Ok(0)
    );
}

#[test]
fn zero_length_receive_waits_without_consuming() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    // Fact 62: zero buffers is WSAEINVAL.
    assert_eq!(
        server.recv(&mut ov, BufList::new(), MsgFlags::empty()),
        Err(WsaError::WSAEINVAL)
    );
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(0), MsgFlags::empty()));
    send_all(&client, b"12345");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 0);
    assert_eq!(recv_exact(&server, 5), b"12345", "nothing was consumed");
}

#[test]
fn peek_copies_without_removing() {
    let (client, server) = tcp_pair();
    send_all(&client, b"data");
    std::thread::sleep(Duration::from_millis(20));
    let event = Event::new();
    for _ in 0..2 {
        let mut ov = Overlapped::new(&event);
        let n = server
            .recv(&mut ov, BufList::zeroed(16), MsgFlags::PEEK)
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(ov.take_buffers().unwrap().gather(4), b"data");
    }
    assert_eq!(recv_exact(&server, 4), b"data");
}

#[test]
fn waitall_completes_only_when_buffer_is_full() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(6), MsgFlags::WAITALL));
    send_all(&client, b"abc");
    assert_eq!(
        wait_for_multiple_events(
            std::slice::from_ref(&event),
            false,
            Some(Duration::from_millis(100)),
            false
        ),
        Ok(WaitResult::Timeout),
        "fact 61: 3 of 6 bytes must not complete a WAITALL receive"
    );
    send_all(&client, b"def");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 6);
    assert_eq!(ov.take_buffers().unwrap().gather(6), b"abcdef");
}

#[test]
fn oob_byte_is_received_with_msg_oob() {
    let (client, server) = tcp_pair();
    client
        .send_sync(&[std::io::IoSlice::new(b"!")], MsgFlags::OOB)
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    let n = match server.recv(&mut ov, BufList::zeroed(4), MsgFlags::OOB) {
        Ok(n) => n,
        Err(WsaError::WSA_IO_PENDING) => get_overlapped_result(&server, &ov, true).unwrap().0,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(n, 1);
    assert_eq!(ov.take_buffers().unwrap().gather(1), b"!");
}

#[test]
fn recv_on_unconnected_socket_fails_at_once_without_notification() {
    let s = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(
        s.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()),
        Err(WsaError::WSAENOTCONN)
    );
    assert!(
        !event.is_set(),
        "fact 1: a call that never started notifies nothing"
    );
}

#[test]
fn overlapped_without_event_signals_the_socket() {
    let (client, server) = tcp_pair();
    let mut ov = Overlapped::without_event();
    pending(server.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()));
    assert!(!server.event().is_set());
    send_all(&client, b"x");
    let r = server.event().wait(LONG).unwrap();
    assert_eq!(
        r,
        WaitResult::Signaled(0),
        "fact 20: the socket handle is the event"
    );
    assert_eq!(get_overlapped_result(&server, &ov, false).unwrap().0, 1);
}

#[test]
fn a_record_cannot_carry_two_operations() {
    let (_client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()));
    assert_eq!(
        server.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()),
        Err(WsaError::WSAEINVAL)
    );
}

#[test]
fn ipv6_round_trip() {
    let (client, server) = tcp_pair_v6();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"v6");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 2);
}

#[test]
fn synchronous_mode_behaves_like_recv() {
    let (client, server) = tcp_pair();
    server.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    // Fact 3: no record, no routine: a non-blocking socket says would-block.
    assert_eq!(
        server.recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty()),
        Err(WsaError::WSAEWOULDBLOCK)
    );
    // Fact 4: an overlapped receive on the same non-blocking socket pends.
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    send_all(&client, b"nb");
    assert_eq!(get_overlapped_result(&server, &ov, true).unwrap().0, 2);
}

#[test]
fn batching_defers_submission_to_the_next_wait() {
    let (client, server) = tcp_pair();
    send_all(&client, b"queued");
    std::thread::sleep(Duration::from_millis(20));
    set_batching(true).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    // Data is there, but a batching thread only queues the receive...
    let r = server.recv(&mut ov, BufList::zeroed(16), MsgFlags::empty());
    assert_eq!(r, Err(WsaError::WSA_IO_PENDING));
    // ...which the next wait submits and completes.
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(get_overlapped_result(&server, &ov, false).unwrap().0, 6);
    // Polling a record also pushes its operation to the kernel.
    let mut ov2 = Overlapped::new(&event);
    pending(server.recv(&mut ov2, BufList::zeroed(16), MsgFlags::empty()));
    send_all(&client, b"polled");
    let mut done = false;
    for _ in 0..500 {
        if ov2.is_completed() {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    set_batching(false).unwrap();
    assert!(done, "polling with is_completed must make progress");
    assert_eq!(get_overlapped_result(&server, &ov2, false).unwrap().0, 6);
}
