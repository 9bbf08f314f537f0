//! Synchronous calls: they wait alertably when they have to wait (fact 7),
//! run nothing when they do not, and honour SO_RCVTIMEO (fact 8).

mod common;

use common::*;
use overlapped::*;
use std::io::IoSliceMut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The thread's result, waited for at most 20 s: a blocked call that never
/// sees the APC queued to it (a lost wake-up) fails the test instead of
/// hanging the suite.
fn joined<T>(t: std::thread::JoinHandle<T>, what: &str) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{what}: the blocked call never returned (an APC queued to it was not seen?)"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    t.join().unwrap()
}

#[test]
fn a_blocking_receive_runs_apcs_and_goes_on_waiting() {
    // The APC itself sends the data the blocked receive then returns (fact 7).
    let (client, server) = tcp_pair();
    let (tx, rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        tx.send(ThreadHandle::current().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let n = server
            .recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty())
            .unwrap();
        (n, buf[..n].to_vec(), std::thread::current().id())
    });
    let handle = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let ran_on = Arc::new(std::sync::Mutex::new(None));
    let r = ran_on.clone();
    assert!(queue_user_apc(&handle, move || {
        *r.lock().unwrap() = Some(std::thread::current().id());
        send_all(&client, b"test");
        drop(client);
    }));
    let (n, data, receiver_id) = joined(receiver, "the blocking receive");
    assert_eq!((n, data.as_slice()), (4, &b"test"[..]));
    assert_eq!(
        *ran_on.lock().unwrap(),
        Some(receiver_id),
        "the APC ran inside the call, on its thread"
    );
}

#[test]
fn a_receive_that_does_not_wait_runs_no_apc() {
    let (client, server) = tcp_pair();
    send_all(&client, b"ready");
    std::thread::sleep(Duration::from_millis(20));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    queue_user_apc(&ThreadHandle::current().unwrap(), move || {
        r.store(true, Ordering::SeqCst)
    });
    let mut buf = [0u8; 16];
    let n = server
        .recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty())
        .unwrap();
    assert_eq!(n, 5);
    assert!(!ran.load(Ordering::SeqCst), "fact 7: no wait, no APC");
    assert_eq!(
        sleep_ex(Some(Duration::ZERO), true),
        Ok(WaitResult::IoCompletion)
    );
    assert!(ran.load(Ordering::SeqCst));
}

#[test]
fn so_rcvtimeo_bounds_only_synchronous_receives() {
    let (client, server) = tcp_pair();
    server
        .as_socket2()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(
        server.recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty()),
        Err(WsaError::WSAETIMEDOUT),
        "fact 8: a synchronous receive times out"
    );
    // An overlapped receive stays pending past the timeout, then completes.
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.recv(&mut ov, BufList::zeroed(4), MsgFlags::empty()));
    assert_eq!(
        event.wait(Some(Duration::from_millis(250))),
        Ok(WaitResult::Timeout)
    );
    send_all(&client, b"x");
    assert_eq!(
        get_overlapped_result(&server, &ov, true).map(|r| r.0),
        Ok(1)
    );
}

#[test]
fn a_blocked_receive_sees_the_peer_close() {
    let (client, server) = tcp_pair();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(client);
    });
    let mut buf = [0u8; 4];
    assert_eq!(
        server.recv_sync(&mut [IoSliceMut::new(&mut buf)], MsgFlags::empty()),
        Ok(0)
    );
    closer.join().unwrap();
}

#[test]
fn a_blocking_send_waits_alertably_for_room_and_sends_everything() {
    let (client, server) = tcp_pair();
    client.as_socket2().set_send_buffer_size(4096).unwrap();
    let data: Vec<u8> = (0..(512 * 1024)).map(|i| (i % 249) as u8).collect();
    let (tx, rx) = mpsc::channel();
    let d = data.clone();
    let sender = std::thread::spawn(move || {
        tx.send(ThreadHandle::current().unwrap()).unwrap();
        let n = client
            .send_sync(&[std::io::IoSlice::new(&d)], MsgFlags::empty())
            .unwrap();
        (n, std::thread::current().id())
    });
    let handle = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // The sender is blocked on a full buffer: an APC runs inside its call.
    let ran_on = Arc::new(std::sync::Mutex::new(None));
    let r = ran_on.clone();
    assert!(queue_user_apc(&handle, move || {
        *r.lock().unwrap() = Some(std::thread::current().id())
    }));
    std::thread::sleep(Duration::from_millis(50));
    let received = recv_exact(&server, data.len());
    let (n, sender_id) = joined(sender, "the blocking send");
    assert_eq!(n, data.len());
    assert_eq!(received, data);
    assert_eq!(*ran_on.lock().unwrap(), Some(sender_id), "fact 7 for sends");
}

#[test]
fn so_sndtimeo_bounds_a_blocking_send() {
    let (client, _server) = tcp_pair();
    client.as_socket2().set_send_buffer_size(4096).unwrap();
    client
        .as_socket2()
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let big = vec![7u8; 8 << 20];
    assert_eq!(
        client.send_sync(&[std::io::IoSlice::new(&big)], MsgFlags::empty()),
        Err(WsaError::WSAETIMEDOUT)
    );
}

#[test]
fn a_blocking_datagram_receive_runs_apcs_too() {
    // The same mechanism serves WSARecvFrom: the APC sends the datagram.
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let rx_sock = Socket::udp_for(&any).unwrap();
    rx_sock.bind(&any).unwrap();
    let to = rx_sock.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        tx.send(ThreadHandle::current().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        let mut from = None;
        let n = rx_sock
            .recv_from_sync(
                &mut [IoSliceMut::new(&mut buf)],
                MsgFlags::empty(),
                &mut from,
            )
            .unwrap();
        (buf[..n].to_vec(), from.is_some())
    });
    let handle = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(queue_user_apc(&handle, move || {
        let s = Socket::udp_for(&any).unwrap();
        s.send_to_sync(&[std::io::IoSlice::new(b"dgram")], &to, MsgFlags::empty())
            .unwrap();
    }));
    let (data, has_from) = joined(receiver, "the blocking datagram receive");
    assert_eq!(data, b"dgram");
    assert!(has_from);
}
