//! Buffers in flight: dropping a pending record, closing its socket, or
//! ending its thread never frees memory the kernel may still write, and
//! each case reports what Winsock would.

mod common;

use common::*;
use overlapped::*;
use std::time::Duration;

#[test]
fn dropping_a_pending_record_cancels_without_consuming_data() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    {
        let mut ov = Overlapped::new(&event);
        pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
        // Dropped while pending: the receive is cancelled, its buffer parked.
    }
    // Let the cancel land, then send: the data must reach the next receive.
    let mut ov = Overlapped::new(&event);
    let _ = sleep_ex(Some(Duration::from_millis(20)), false);
    send_all(&client, b"still here");
    match server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("{e}"),
    }
    let (n, _) = get_overlapped_result(&server, &ov, true).unwrap();
    assert_eq!(ov.take_buffers().unwrap().gather(n as usize), b"still here");
}

#[test]
fn forgetting_a_pending_record_is_safe() {
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
    // Leaking the record leaks no buffer the kernel can write into freed
    // memory: the buffers belong to the driver until the completion.
    std::mem::forget(ov);
    send_all(&client, b"into the void");
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
}

#[test]
fn closing_the_socket_aborts_its_pending_receive() {
    let (_client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
    let keep = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    server.close().unwrap();
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    // Fact 127: a connected stream receive reports the connection aborted.
    assert_eq!(
        get_overlapped_result(&keep, &ov, false),
        Err(WsaError::WSAECONNABORTED)
    );
    assert_eq!(
        ov.take_buffers().unwrap().total_len(),
        64,
        "buffer handed back"
    );
}

#[test]
fn closing_from_another_thread_wakes_the_waiter() {
    let (_client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(server);
    });
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    closer.join().unwrap();
    assert!(ov.is_completed());
}

#[test]
fn closed_descriptor_number_is_not_reused_while_operations_name_it() {
    use std::os::fd::AsRawFd;
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
    let old_fd = server.as_raw_fd();
    drop(server);
    // A socket made right after must not be able to receive the old
    // operation's data (pitfall 1); its number may differ or be reused
    // only after the kernel let go.
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    let (c2, s2) = tcp_pair();
    let mut ov2 = Overlapped::new(&event);
    pending(s2.recv(&mut ov2, BufList::zeroed(64), MsgFlags::empty()));
    send_all(&c2, b"mine");
    let (n, _) = get_overlapped_result(&s2, &ov2, true).unwrap();
    assert_eq!(ov2.take_buffers().unwrap().gather(n as usize), b"mine");
    assert!(ov.take_buffers().is_some());
    let _ = (old_fd, client);
}

#[test]
fn thread_exit_keeps_event_operations_running() {
    // Fact 133: an operation is not cancelled when its issuing thread
    // exits; it completes, and signals its event, later.
    let (client, server) = tcp_pair();
    let event = Event::new();
    let ev = event.clone();
    let ov = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        pending(server.recv(&mut ov, BufList::zeroed(64), MsgFlags::empty()));
        (ov, server)
    })
    .join()
    .unwrap();
    let (ov, server) = ov;
    send_all(&client, b"after exit");
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    let result = get_overlapped_result(&server, &ov, false);
    assert_eq!(
        result.map(|r| r.0),
        Ok(10),
        "documented: the receive completes normally"
    );
}

#[test]
fn thread_exit_with_a_record_dropped_mid_flight() {
    // The record and the thread both go while the kernel still holds the
    // receive: the buffer stays parked until the completion, then is freed.
    let (client, server) = tcp_pair();
    for _ in 0..50 {
        let s = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let event = Event::new();
                    let mut ov = Overlapped::new(&event);
                    pending(server.recv(&mut ov, BufList::zeroed(4096), MsgFlags::empty()));
                })
                .join()
        });
        s.unwrap();
    }
    // None of the 50 abandoned receives may swallow data meant for the next.
    let _ = sleep_ex(Some(Duration::from_millis(50)), false);
    send_all(&client, b"x");
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    match server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()) {
        Ok(_) | Err(WsaError::WSA_IO_PENDING) => {}
        Err(e) => panic!("{e}"),
    }
    assert_eq!(
        get_overlapped_result(&server, &ov, true).map(|r| r.0),
        Ok(1)
    );
}

#[test]
fn a_closed_sockets_record_keeps_the_operations_result() {
    // Fact 127: closesocket ends a pending UDP receive with
    // WSA_OPERATION_ABORTED (a connected TCP one with WSAECONNABORTED), the
    // event signalled. WSAGetOverlappedResult on the closed SOCKET is
    // WSAENOTSOCK, as on Windows; the record still holds the result
    // (`Internal`), read with Overlapped::status.
    let udp = Socket::udp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    udp.bind(&"127.0.0.1:0".parse().unwrap()).unwrap();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(udp.recv_from(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    assert_eq!(ov.status(), Err(WsaError::WSA_IO_INCOMPLETE));
    udp.clone().close().unwrap();
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        get_overlapped_result(&udp, &ov, false),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(ov.status(), Err(WsaError::WSA_OPERATION_ABORTED));
    event.reset();
    let (client, server) = tcp_pair();
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    assert_eq!(ov.status(), Ok(0), "a record that never started");
    pending(server.recv(&mut ov, BufList::zeroed(8), MsgFlags::empty()));
    assert_eq!(ov.status(), Err(WsaError::WSA_IO_INCOMPLETE));
    server.clone().close().unwrap();
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Err(WsaError::WSAENOTSOCK)
    );
    assert_eq!(ov.status(), Err(WsaError::WSAECONNABORTED));
    assert_eq!(ov.bytes_transferred(), 0);
    // A completed one reads its bytes, also after the close.
    let (client2, server2) = tcp_pair();
    let mut ov2 = Overlapped::new(&event);
    event.reset();
    let r = server2.recv(&mut ov2, BufList::zeroed(8), MsgFlags::empty());
    send_all(&client2, b"abc");
    if r == Err(WsaError::WSA_IO_PENDING) {
        assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    }
    server2.close().unwrap();
    assert_eq!(ov2.status(), Ok(3));
    drop(client);
}
