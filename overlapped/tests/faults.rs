//! Closing a socket with operations pending (facts 127, 128, 134), from any
//! thread, on several rings, with routines, by the thousand; and thread exit
//! with operations pending (fact 133).

mod common;

use common::*;
use overlapped::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

fn start_recv(s: &Socket, ov: &mut Overlapped, len: usize) {
    pending(s.recv(ov, BufList::zeroed(len), MsgFlags::empty()));
}

/// A record's result, read through some open socket (the record's own
/// socket is closed by then).
fn result_of(ov: &Overlapped) -> WsaResult<u32> {
    let open = Socket::tcp_for(&"127.0.0.1:0".parse().unwrap()).unwrap();
    get_overlapped_result(&open, ov, false).map(|r| r.0)
}

/// Fills `s`'s send path (its send buffer and the peer's receive window)
/// until non-blocking sends stay blocked.
fn fill(s: &Socket) {
    s.as_socket2().set_send_buffer_size(16 * 1024).unwrap();
    s.set_nonblocking(true).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    loop {
        let mut moved = 0;
        while let Ok(n) = s.send_sync(&[std::io::IoSlice::new(&chunk)], MsgFlags::empty()) {
            moved += n;
        }
        if moved == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    s.set_nonblocking(false).unwrap();
}

/// Waits (driving completions) until every record has completed.
fn wait_all(ovs: &[&Overlapped]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ovs.iter().all(|ov| ov.is_completed()) {
        let states: Vec<bool> = ovs.iter().map(|ov| ov.is_completed()).collect();
        assert!(
            Instant::now() < deadline,
            "operations never completed: {states:?}"
        );
        let _ = sleep_ex(Some(Duration::from_millis(5)), false);
    }
}

#[test]
fn closing_from_another_thread_aborts_a_send_pending_on_a_full_buffer() {
    // Fact 127: every pending operation completes; a send reports the
    // operation aborted. Fact 134: the waiting thread wakes.
    let (_client, server) = tcp_pair();
    fill(&server);
    let event = Event::new();
    let mut ov = Overlapped::new(&event);
    pending(server.send(
        &mut ov,
        BufList::from(vec![2u8; 1 << 20]),
        MsgFlags::empty(),
    ));
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        server.close().unwrap();
    });
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    closer.join().unwrap();
    assert_eq!(result_of(&ov), Err(WsaError::WSA_OPERATION_ABORTED));
    assert!((ov.bytes_transferred() as usize) < 1 << 20);
    assert_eq!(ov.take_buffers().unwrap().total_len(), 1 << 20);
}

#[test]
fn closing_completes_the_operations_of_every_thread() {
    // Operations on one socket issued by three threads (three rings), some
    // queued in the socket's lanes: one close ends them all, and each
    // thread's waiter wakes.
    let (_client, server) = tcp_pair();
    fill(&server);
    let server = Arc::new(server);
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (server, tx) = (server.clone(), tx.clone());
            std::thread::spawn(move || {
                let event = Event::new();
                let mut recv = Overlapped::new(&event);
                let mut send = Overlapped::new(&event);
                start_recv(&server, &mut recv, 16);
                let bufs = BufList::from(vec![i as u8; 4 << 20]);
                pending(server.send(&mut send, bufs, MsgFlags::empty()));
                drop(server);
                tx.send(()).unwrap();
                wait_all(&[&recv, &send]);
                (result_of(&recv), result_of(&send))
            })
        })
        .collect();
    for _ in 0..3 {
        rx.recv().unwrap();
    }
    // The last reference: this drop closes the socket.
    Arc::into_inner(server).unwrap().close().unwrap();
    for t in threads {
        let (recv, send) = t.join().unwrap();
        // Fact 127: a connected stream receive reports the connection
        // aborted; a send, the operation aborted.
        assert_eq!(recv, Err(WsaError::WSAECONNABORTED));
        assert_eq!(send, Err(WsaError::WSA_OPERATION_ABORTED));
    }
}

#[test]
fn closing_runs_pending_routines_with_the_close_errors() {
    let (_client, server) = tcp_pair();
    fill(&server);
    let seen: Rc<RefCell<Vec<(&str, i32)>>> = Rc::default();
    let log = |name: &'static str| {
        let seen = seen.clone();
        move |c: Completion| seen.borrow_mut().push((name, c.error.code()))
    };
    pending(server.recv_with(BufList::zeroed(8), MsgFlags::empty(), log("recv")));
    pending(server.recv_with(BufList::zeroed(8), MsgFlags::empty(), log("recv2")));
    let big = BufList::from(vec![0u8; 1 << 20]);
    pending(server.send_with(big, MsgFlags::empty(), log("send")));
    drop(server);
    while seen.borrow().len() < 3 {
        assert_eq!(sleep_ex(LONG, true), Ok(WaitResult::IoCompletion));
    }
    let mut seen = seen.borrow().clone();
    seen.sort();
    assert_eq!(seen, [("recv", 10053), ("recv2", 10053), ("send", 995)]);
}

#[test]
fn closing_a_thousand_sockets_with_two_thousand_operations_pending() {
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let event = Event::new();
    let mut pairs = Vec::new();
    let mut ovs = Vec::new();
    for _ in 0..1000 {
        let client = Socket::tcp_for(&addr).unwrap();
        client.connect(&addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        for _ in 0..2 {
            let mut ov = Overlapped::new(&event);
            start_recv(&server, &mut ov, 512);
            ovs.push(ov);
        }
        pairs.push((client, server));
    }
    // Close every server socket from another thread, and send on every
    // client: no byte may land in a closed socket's buffers.
    let (clients, servers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    std::thread::spawn(move || drop(servers)).join().unwrap();
    for c in &clients {
        let _ = c.send_sync(&[std::io::IoSlice::new(b"late")], MsgFlags::empty());
    }
    wait_all(&ovs.iter().collect::<Vec<_>>());
    let rs: Vec<_> = ovs.iter().map(result_of).collect();
    let bad: Vec<_> = rs
        .iter()
        .enumerate()
        .filter(|(_, r)| **r != Err(WsaError::WSAECONNABORTED))
        .collect();
    eprintln!("bad: {} {:?}", bad.len(), &bad[..bad.len().min(10)]);
    for ov in &mut ovs {
        assert_eq!(result_of(ov), Err(WsaError::WSAECONNABORTED));
        assert_eq!(ov.bytes_transferred(), 0);
        assert_eq!(ov.take_buffers().unwrap().gather(4), [0u8; 4]);
    }
}

#[test]
fn a_new_socket_never_receives_a_closed_sockets_data() {
    // Facts 127, 128 and pitfall 1: close (from another thread) with a
    // receive pending, then at once make a new connection, which may reuse
    // the descriptor number: each receive gets only its own socket's bytes.
    let listener = Socket::listen_tcp(&"127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let addr = listener.local_addr().unwrap();
    let event = Event::new();
    for round in 0..100u32 {
        let client = Socket::tcp_for(&addr).unwrap();
        client.connect(&addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut old = Overlapped::new(&event);
        start_recv(&server, &mut old, 64);
        let closer = std::thread::spawn(move || drop(server));
        let c2 = Socket::tcp_for(&addr).unwrap();
        c2.connect(&addr).unwrap();
        let (s2, _) = listener.accept().unwrap();
        let mut new = Overlapped::new(&event);
        start_recv(&s2, &mut new, 64);
        closer.join().unwrap();
        let _ = client.send_sync(&[std::io::IoSlice::new(b"old")], MsgFlags::empty());
        send_all(&c2, &round.to_le_bytes());
        assert_eq!(
            get_overlapped_result(&s2, &new, true),
            Ok((4, MsgFlags::empty()))
        );
        assert_eq!(new.take_buffers().unwrap().gather(4), round.to_le_bytes());
        wait_all(&[&old]);
        assert_eq!(result_of(&old), Err(WsaError::WSAECONNABORTED));
    }
}

#[test]
fn thread_exit_leaves_a_pending_send_running() {
    // Fact 133: the send outlives its thread; once the peer reads, it
    // completes with every byte and signals its event.
    let (client, server) = tcp_pair();
    fill(&server);
    let event = Event::new();
    let ev = event.clone();
    let (ov, server) = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        let bufs = BufList::from(vec![9u8; 256 * 1024]);
        pending(server.send(&mut ov, bufs, MsgFlags::empty()));
        (ov, server)
    })
    .join()
    .unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut nines = 0;
        while nines < 256 * 1024 {
            let n = client
                .recv_sync(&mut [std::io::IoSliceMut::new(&mut buf)], MsgFlags::empty())
                .unwrap();
            assert!(n > 0);
            nines += buf[..n].iter().filter(|b| **b == 9).count();
        }
    });
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(
        get_overlapped_result(&server, &ov, false),
        Ok((256 * 1024, MsgFlags::empty()))
    );
    reader.join().unwrap();
}

#[test]
fn closing_after_the_issuing_thread_exited_aborts_the_connection() {
    // Fact 133, last part: a later closesocket reports the connection
    // aborted for the orphaned receive.
    let (_client, server) = tcp_pair();
    let event = Event::new();
    let ev = event.clone();
    let (ov, server) = std::thread::spawn(move || {
        let mut ov = Overlapped::new(&ev);
        start_recv(&server, &mut ov, 16);
        (ov, server)
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert!(!ov.is_completed(), "not cancelled by the thread's exit");
    drop(server);
    assert_eq!(event.wait(LONG), Ok(WaitResult::Signaled(0)));
    assert_eq!(result_of(&ov), Err(WsaError::WSAECONNABORTED));
}
